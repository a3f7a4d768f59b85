# ruff: noqa: E501 - hand-written sentences read better unbroken
"""Writes bench/data/memory_conversations.json: the long-conversation evaluation set.

Run from packages/backend: ``uv run python bench/data/make_memory_conversations.py`` (deterministic:
the same file every time). Committed together with its output; the benchmark reads only the JSON.

Five users, each with 20 dated sessions of 16 turns (320 turns) between the user and Eliza. Every
user has a hand-written life (about 30 facts, each said once by the user in one session) and
hand-written questions whose answers are in those turns (names, dates, paraphrases and multi-hop
questions that need two turns). The rest of each session is drawn with a fixed seed: half of it the
user's own hand-written chatter about the same people, work and plans (on topic for many questions,
answering none), other events of the user's life with names, dates and amounts (templated, with
dates and cities that never collide with the user's facts), and everyday small talk; so names,
dates and topics recur in turns that answer nothing, as they do in a real conversation. A user's
message is one to three such sentences (plus sometimes a closing remark), and a fact usually
shares its message with other news of the day, as people write to a companion in paragraphs.

The fifth user (``elin``) is the held-out part: written last and never used to tune the retrieval;
the benchmark reports it separately.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

OUT = Path(__file__).parent / "memory_conversations.json"
SESSIONS = 20
TURNS_PER_SESSION = 16
HELD_OUT = {"elin"}
# Share of the small-talk turns that are the user's own chatter about their people, work and plans:
# on topic for many questions, answering none of them.
CHATTER_SHARE = 0.35
# Share of them that are other events of the user's life (dates, names, amounts; see EVENTS).
EVENT_SHARE = 0.35

# --- the users: profile (for small talk), facts (label, session, text) and questions ----------

USERS: dict[str, dict] = {
    "ana": {
        "chatter": [
            "Miguel came home at 6am again and slept until lunch.",
            "Miguel made me breakfast before his shift, which was sweet.",
            "Inês video-called me from her new flat, it looks tiny.",
            "Inês sounds tired lately, I hope she's okay.",
            "Pimenta slept on my keyboard all afternoon.",
            "Pimenta has been meowing at 5am for food.",
            "Cello practice went badly, my fingers wouldn't cooperate.",
            "Beatriz made me play scales for an hour tonight.",
            "Beatriz lent me a book about posture.",
            "Ricardo was in a terrible mood at the studio today.",
            "Ricardo wants me to present at the client meeting on Thursday.",
            "The competition drawings still need so much work.",
            "I redid the competition site plan three times today.",
            "Joana texted me a training plan with way too many hill runs.",
            "Joana and I had coffee and talked for two hours.",
            "My knees ache after running, I need better shoes.",
            "I ran in the rain this morning and it was weirdly fun.",
            "Flat hunting is exhausting, every place we see is dark.",
            "We saw a flat with a lovely balcony but a tiny kitchen.",
            "Packing boxes everywhere, I can't find anything.",
            "My mum keeps saying she doesn't need help, but she does.",
            "The drive to see my mum takes forever on Saturday mornings.",
            "Dr. Sousa and I talked about my perfectionism today.",
            "Book club was fun, we ended up talking about our parents.",
            "I haven't finished the book club novel and the meeting is tomorrow.",
            "Miguel's bakery idea keeps him up at night planning.",
            "I'm daydreaming about temples and gardens.",
            "I looked at flights again, they're so expensive.",
            "The studio is celebrating, but I just feel tired.",
            "I forgot my lunch again and felt awful by four.",
            "Joana sent me photos of wedding dresses.",
            "Inês sent a scan photo and I cried a little.",
            "Clara is adorable, I can't stop looking at the photos.",
            "Ricardo keeps hinting at changes in the team.",
            "I'm nervous about performing in front of people.",
        ],
        "start": "2026-01-05",
        "people": ["Miguel", "Inês", "Joana", "Ricardo", "Beatriz", "Lúcia"],
        "hobbies": ["the cello", "running", "reading", "sketching"],
        "places": ["Porto", "the studio", "the Douro", "Braga"],
        "pet": "Pimenta",
        "facts": [
            ("a1", 1, "I work as an architect at a small studio in Porto, mostly designing social housing."),
            ("a2", 1, "My partner Miguel is a pastry chef; he works nights at a hotel bakery."),
            ("a3", 2, "My sister Inês just moved to Lyon for a postdoc in marine biology."),
            ("a4", 2, "Our cat Pimenta knocked my coffee all over the floor plans this morning."),
            ("a5", 3, "I started cello lessons on Tuesday evenings with a teacher called Beatriz."),
            ("a6", 3, "I'm allergic to shellfish, so seafood restaurants are always a gamble for me."),
            (
                "a7",
                4,
                "Ricardo, my boss, wants the Campanhã housing competition entry finished by 28 February.",
            ),
            ("a8", 4, "I keep waking up at 4am worrying about that competition deadline."),
            (
                "a9",
                5,
                "My best friend Joana convinced me to sign up for the Porto half marathon on 12 April.",
            ),
            ("a10", 5, "My longest run so far is 9 kilometres along the river."),
            (
                "a11",
                6,
                "We submitted the Campanhã entry two days early! Ricardo bought everyone francesinhas.",
            ),
            (
                "a12",
                6,
                "Miguel and I are looking for a bigger flat in Bonfim, he wants room for a proofing cabinet.",
            ),
            ("a13", 7, "Inês told me she's pregnant; the baby is due in early September."),
            ("a14", 7, "My book club is reading 'The Remains of the Day' this month."),
            (
                "a15",
                8,
                "My mother Lúcia had knee surgery on 3 March, so I drive to Braga on weekends to help her.",
            ),
            ("a16", 8, "Dr. Sousa, my therapist, suggested I write down three good things every night."),
            ("a17", 9, "We signed the lease for the Bonfim flat! We move on 1 May."),
            ("a18", 9, "Pimenta hid under the bed for two days after the vet visit."),
            ("a19", 10, "I ran 18 km last Sunday without stopping, knee tape and all."),
            (
                "a20",
                11,
                "Finished the half marathon in 2 hours 4 minutes, and Joana crossed the line right behind me.",
            ),
            ("a21", 12, "Beatriz says I'm ready to play the Bach prelude at the student recital."),
            ("a22", 12, "The recital is on 21 June at the conservatory hall."),
            (
                "a23",
                13,
                "Miguel got offered a head pastry chef job in Lisbon, and I don't know how I feel about it.",
            ),
            (
                "a24",
                14,
                "Miguel turned down Lisbon; he's opening a little bakery stall at Bolhão market instead.",
            ),
            ("a25", 15, "I'm saving for a trip to Kyoto in October; I've put aside 1,800 euros so far."),
            ("a26", 15, "The studio won the Campanhã competition, construction starts next year."),
            ("a27", 16, "Lúcia is walking without crutches now, physiotherapy twice a week."),
            ("a28", 17, "I get migraines when I skip lunch, so I've started bringing soup to work."),
            (
                "a29",
                18,
                "Joana is getting married in Madeira next spring and asked me to be her maid of honour.",
            ),
            ("a30", 19, "Inês had the baby, a girl called Clara, on 2 September."),
            ("a31", 20, "Ricardo offered me a promotion to associate, starting in January."),
        ],
        "questions": [
            ("What do I do for a living?", ["a1"], "paraphrase"),
            ("Which city is my office in?", ["a1"], "paraphrase"),
            ("What is Miguel's job?", ["a2"], "name"),
            ("Who in my life bakes for a hotel?", ["a2"], "paraphrase"),
            ("Where did my sister move to?", ["a3"], "keyword"),
            ("What does Inês research?", ["a3"], "name"),
            ("What is the name of my pet?", ["a4"], "paraphrase"),
            ("Who teaches me music?", ["a5"], "paraphrase"),
            ("Which instrument am I learning?", ["a5"], "paraphrase"),
            ("What food do I have to avoid?", ["a6"], "paraphrase"),
            ("When is the housing competition deadline?", ["a7"], "date"),
            ("Why have I been losing sleep?", ["a8"], "paraphrase"),
            ("What is happening on 12 April?", ["a9"], "date"),
            ("Who talked me into entering a race?", ["a9"], "paraphrase"),
            ("What was my longest run early in my training?", ["a10"], "paraphrase"),
            ("How did Ricardo celebrate the submission?", ["a11"], "name"),
            ("When did my mum have her operation?", ["a15"], "date"),
            ("When is Inês's baby due?", ["a13"], "date"),
            ("Which novel is my book club reading?", ["a14"], "paraphrase"),
            ("What surgery did my mum have?", ["a15"], "paraphrase"),
            ("What did my therapist suggest I do each evening?", ["a16"], "paraphrase"),
            ("When is moving day?", ["a17"], "date"),
            ("How did the cat react to the vet?", ["a18"], "paraphrase"),
            ("What was my half marathon time?", ["a20"], "keyword"),
            ("What piece will I play at the recital?", ["a21"], "keyword"),
            ("When and where is the recital?", ["a22"], "date"),
            ("What job offer did Miguel get?", ["a23"], "name"),
            ("Where will Miguel sell his pastries?", ["a24"], "name"),
            ("How much have I saved for Japan?", ["a25"], "paraphrase"),
            ("Did we win the competition?", ["a26"], "keyword"),
            ("How is my mother's recovery going?", ["a27"], "paraphrase"),
            ("What triggers my headaches?", ["a28"], "paraphrase"),
            ("Whose wedding am I in?", ["a29"], "paraphrase"),
            ("What promotion was I offered?", ["a31"], "keyword"),
            ("Who is Beatriz?", ["a5"], "name"),
            ("Who is Dr. Sousa?", ["a16"], "name"),
            ("Who is Joana?", ["a9"], "name"),
            ("What is my niece called?", ["a30", "a3"], "multi-hop"),
            ("Where does the person who is expecting a baby live?", ["a13", "a3"], "multi-hop"),
            (
                "What does the friend who got me into running have planned for next spring?",
                ["a9", "a29"],
                "multi-hop",
            ),
            ("Which neighbourhood are we moving to, and on what date?", ["a12", "a17"], "multi-hop"),
            (
                "Which job did my partner turn down, and what is he doing instead?",
                ["a23", "a24"],
                "multi-hop",
            ),
        ],
    },
    "ben": {
        "chatter": [
            "Priya had parents' evening and got home late.",
            "Priya and I barely saw each other this week.",
            "Kofi wants new football boots, the fancy ones.",
            "Kofi's match got rained off and he was gutted.",
            "Amara drew a picture of Rolo with six legs.",
            "Amara has a cold and was up all night.",
            "Rolo rolled in something disgusting at the park.",
            "Rolo chewed one of Kofi's shin pads.",
            "Chidi sent photos of a job his team finished.",
            "I spoke to Chidi for an hour, he sounds stressed about money.",
            "Tough night on the ward, we lost a patient.",
            "A&E was chaos last night, people queuing into the corridor.",
            "Helen wants everyone to do extra training modules.",
            "Helen praised the new starters in handover.",
            "Sam and I grabbed breakfast after the night shift.",
            "Sam is thinking of leaving nursing, which worries me.",
            "My back twinged again when I picked up Amara.",
            "I did my stretches in the staff room and got funny looks.",
            "Training rides are hard after nights, my legs are dead.",
            "I did a 60 mile training ride on Sunday.",
            "Weeding the allotment took the whole afternoon.",
            "Slugs ate half the lettuces at the allotment.",
            "The application essay for the course is so hard to write.",
            "I keep practising greetings on Kofi and he laughs at me.",
            "Gran laughed at my pronunciation on the phone, but kindly.",
            "The car is making a weird noise again.",
            "Money is tight with the car and the flights.",
            "Packing for the trip with two kids is madness.",
            "Lagos was hot and loud and I loved every minute.",
            "Dad gave a speech that made everyone cry.",
            "I'm reading the course handbook and it's intense.",
            "Priya's school had an inspection this week.",
            "Day shifts will feel strange after all these years.",
            "Kofi asked if he can be a nurse like me.",
        ],
        "start": "2026-01-08",
        "people": ["Priya", "Kofi", "Amara", "Chidi", "Sam", "Helen"],
        "hobbies": ["cycling", "the allotment", "football", "cooking jollof"],
        "places": ["Manchester", "the ward", "Chorlton", "Lagos"],
        "pet": "Rolo",
        "facts": [
            (
                "b1",
                1,
                "I'm a nurse in the A&E department at Manchester Royal Infirmary, mostly on night shifts.",
            ),
            ("b2", 1, "My wife Priya teaches year four at a primary school in Didsbury."),
            (
                "b3",
                2,
                "Kofi is seven and obsessed with football; he plays for Chorlton Juniors on Saturdays.",
            ),
            ("b4", 2, "Amara started nursery last week and cried every single morning at drop-off."),
            ("b5", 3, "My brother Chidi lives in Lagos and runs a solar panel business."),
            ("b6", 3, "I applied for the advanced clinical practitioner course at Salford University."),
            ("b7", 4, "Night shifts wreck my sleep; my GP suggested melatonin and it helps a bit."),
            ("b8", 4, "Our dog Rolo, a chocolate labrador, ate an entire birthday cake off the counter."),
            ("b9", 5, "Helen, my ward manager, asked me to mentor two newly qualified nurses."),
            ("b10", 5, "Dad turns seventy on 8 August and the whole family is flying out for it."),
            ("b11", 6, "I got an interview for the Salford course on 17 March."),
            ("b12", 6, "My lower back has been killing me since I lifted a patient awkwardly."),
            (
                "b13",
                7,
                "I'm cycling from Manchester to Liverpool on 25 May to raise money for the children's ward.",
            ),
            ("b14", 7, "We got an allotment plot in Chorlton; Priya wants to grow squash and runner beans."),
            ("b15", 8, "I got into the Salford course! It starts in September, two days a week."),
            ("b16", 8, "Sam covers my shifts when Kofi has matches, and I take his Sundays in return."),
            ("b17", 9, "I'm learning Igbo on an app so I can talk properly with my grandmother."),
            ("b18", 9, "The physio said it's a strained muscle; I have stretches to do twice a day."),
            ("b19", 10, "We raised £2,340 for the children's ward with the bike ride."),
            ("b20", 11, "Kofi scored his first goal on Saturday and hasn't stopped talking about it."),
            ("b21", 11, "Priya is thinking of applying for deputy head at her school."),
            ("b22", 12, "The car's gearbox died on the M60; the garage says it's about £900 to fix."),
            ("b23", 13, "Chidi is coming to stay with us in July before we all fly out together."),
            ("b24", 13, "Amara loves nursery now, her best friend there is a girl called Ruby."),
            ("b25", 14, "Flights are booked: we leave Manchester for Lagos on 4 August."),
            ("b26", 15, "I'm nervous about juggling the course with night shifts and the kids."),
            ("b27", 16, "Dad's party was amazing, two hundred guests and a live highlife band."),
            ("b28", 17, "Helen said I can move to day shifts once the course starts."),
            ("b29", 18, "The allotment gave us so many courgettes that Priya is making chutney."),
            (
                "b30",
                19,
                "First week of the course done; my tutor is Dr. Okonjo, who used to work in intensive care.",
            ),
            ("b31", 20, "Priya got the deputy head job!"),
        ],
        "questions": [
            ("Which hospital do I work at?", ["b1"], "keyword"),
            ("What does my wife do?", ["b2"], "paraphrase"),
            ("Which team does Kofi play for?", ["b3"], "name"),
            ("How old is my son?", ["b3"], "paraphrase"),
            ("How did Amara cope with starting nursery?", ["b4"], "name"),
            ("What business does Chidi run?", ["b5"], "name"),
            ("Which university course did I apply for?", ["b6"], "keyword"),
            ("What helps me sleep after working nights?", ["b7"], "paraphrase"),
            ("What did the dog eat?", ["b8"], "paraphrase"),
            ("What breed is Rolo?", ["b8"], "name"),
            ("What did Helen ask me to do?", ["b9"], "name"),
            ("When is Dad's seventieth birthday?", ["b10"], "date"),
            ("When was my course interview?", ["b11"], "date"),
            ("How did I hurt my back?", ["b12"], "paraphrase"),
            ("What is happening on 25 May?", ["b13"], "date"),
            ("Where am I riding my bike to for charity?", ["b13"], "paraphrase"),
            ("What does Priya want to grow?", ["b14"], "name"),
            ("When does the course start?", ["b15"], "date"),
            ("Who swaps shifts with me?", ["b16"], "paraphrase"),
            ("Which language am I learning, and why?", ["b17"], "paraphrase"),
            ("What did the physiotherapist say about my back?", ["b18"], "paraphrase"),
            ("How much money did the ride raise?", ["b19"], "paraphrase"),
            ("What was Kofi so excited about?", ["b20"], "name"),
            ("What promotion is Priya considering?", ["b21"], "name"),
            ("What went wrong with the car?", ["b22"], "paraphrase"),
            ("Who is Ruby?", ["b24"], "name"),
            ("When do we fly to Nigeria?", ["b25"], "date"),
            ("What am I worried about with the course?", ["b26"], "paraphrase"),
            ("What music was at Dad's party?", ["b27"], "keyword"),
            ("Will I still work nights during the course?", ["b28"], "paraphrase"),
            ("What is Priya doing with all the courgettes?", ["b29"], "name"),
            ("Who is Dr. Okonjo?", ["b30"], "name"),
            ("What is my daughter's best friend called?", ["b24"], "paraphrase"),
            ("Who is Sam?", ["b16"], "name"),
            ("When is my brother visiting?", ["b23", "b5"], "multi-hop"),
            ("What does my brother do for work, and when is he coming to stay?", ["b5", "b23"], "multi-hop"),
            ("Did Priya get the job she was thinking of applying for?", ["b21", "b31"], "multi-hop"),
            ("Where is the allotment and what did it grow too much of?", ["b14", "b29"], "multi-hop"),
            ("Which charity ride did I do, and how much did it raise?", ["b13", "b19"], "multi-hop"),
            ("How many days a week is the course, and will my shifts change?", ["b15", "b28"], "multi-hop"),
            ("What's wrong with my back and what is the treatment?", ["b12", "b18"], "multi-hop"),
            ("How much will the gearbox repair cost?", ["b22"], "keyword"),
        ],
    },
    "chloe": {
        "chatter": [
            "Théo had rehearsal until midnight, so I barely saw him.",
            "Théo cooked dinner and we watched a film.",
            "Aisha came home after a 12-hour shift and fell asleep on the couch.",
            "Aisha and I made crêpes on Sunday.",
            "Gagnon cancelled our meeting again.",
            "Gagnon was in a good mood today, for once.",
            "The mice were restless today and I lost half a day of recordings.",
            "Spent the whole day analysing EEG traces.",
            "The lab freezer broke and we scrambled to save samples.",
            "The gym was great, I finally sent a purple problem.",
            "Chalk everywhere in my bag, as usual.",
            "My inhaler ran out and the pharmacy was closed.",
            "It's minus twenty-five and I refuse to go outside.",
            "The immigration forms ask the same question four times.",
            "Grading forty assignments is slowly killing me.",
            "A student asked me about p-values and I explained it badly.",
            "Mamie called and asked if I'm eating enough.",
            "I miss Brittany, the sea and the crêpes.",
            "The album artwork Théo showed me is beautiful.",
            "The reviews made me doubt whether I belong in science.",
            "Writing the response to reviewers is painful.",
            "My finger is still swollen and stiff.",
            "Pottery is messy but relaxing.",
            "Lucas called and we talked about our parents.",
            "Lucas sent me a video of his station's barbecue.",
            "Preparing slides for the conference all week.",
            "I practised my talk in front of the lab.",
            "Kenji brought homemade mochi to lab meeting.",
            "Kenji and I argue about statistics constantly.",
            "Rent day again, my bank account is crying.",
            "Théo's bandmates came over and played until 2am.",
            "My committee wants a timeline for the thesis.",
            "Thinking about leaving Montréal makes me sad.",
            "Working on a research proposal in the evenings.",
        ],
        "start": "2026-01-12",
        "people": ["Théo", "Aisha", "Gagnon", "Lucas", "Kenji", "Odette"],
        "hobbies": ["climbing", "pottery", "jazz gigs", "baking bread"],
        "places": ["Montréal", "the lab", "the Plateau", "Brittany"],
        "pet": "the lab mice",
        "facts": [
            (
                "c1",
                1,
                "I'm a third-year PhD student in neuroscience at McGill, studying sleep and memory in mice.",
            ),
            (
                "c2",
                1,
                "My supervisor, Professor Gagnon, wants a full draft of my first paper by the end of January.",
            ),
            ("c3", 2, "My boyfriend Théo plays bass in a jazz trio called Les Lundis."),
            ("c4", 2, "I share a flat in the Plateau with Aisha, who is training to be a midwife."),
            ("c5", 3, "I've been bouldering three times a week at a gym called Allez Up."),
            ("c6", 3, "I have asthma, so the cold air in January makes running impossible."),
            ("c7", 4, "My visa renewal appointment is on 19 February and I'm anxious about the paperwork."),
            ("c8", 4, "I'm a teaching assistant for an intro statistics class, grading takes all of Sunday."),
            ("c9", 5, "My grandmother Odette lives in a village in Brittany and turns ninety in April."),
            (
                "c10",
                5,
                "Théo's trio releases their first album on 30 March, with a launch gig at Casa del Popolo.",
            ),
            ("c11", 6, "The paper got rejected; reviewer two said the sample size was too small."),
            ("c12", 6, "Gagnon suggested we add a second cohort of twenty mice before resubmitting."),
            (
                "c13",
                7,
                "I hurt my ring finger on the wall, the doctor called it a pulley strain, no climbing for six weeks.",
            ),
            ("c14", 7, "I've started pottery classes on Thursday nights while my finger heals."),
            ("c15", 8, "The visa came through, valid until 2028!"),
            (
                "c16",
                8,
                "My brother Lucas is a firefighter in Nantes and just got engaged to his girlfriend Manon.",
            ),
            ("c17", 9, "I flew to France for Mamie Odette's ninetieth; the whole village came to the party."),
            ("c18", 9, "I've been vegetarian for five years, which my grandmother still doesn't understand."),
            ("c19", 10, "My abstract got accepted for a talk at the FENS conference in Vienna on 9 July."),
            ("c20", 11, "Aisha is moving out in June to live with her partner, so I need a new roommate."),
            ("c21", 12, "Kenji from my lab agreed to take Aisha's room from July."),
            ("c22", 12, "I made a wonky blue teapot in pottery and I'm weirdly proud of it."),
            ("c23", 13, "My thesis committee meeting is set for 14 November."),
            (
                "c24",
                14,
                "The talk in Vienna went well; someone from the Max Planck Institute asked me about postdocs.",
            ),
            (
                "c25",
                15,
                "Money is tight: my stipend is 24,000 dollars a year and rent just went up to 950 a month.",
            ),
            ("c26", 16, "Théo is going on tour in Europe for three weeks in October."),
            ("c27", 17, "I'm back on the climbing wall, taping my finger and avoiding crimpy holds."),
            ("c28", 18, "The resubmitted paper was accepted at the Journal of Neuroscience!"),
            ("c29", 19, "Lucas and Manon set their wedding for 6 June next year in Nantes."),
            ("c30", 20, "I'm thinking of applying for the Max Planck postdoc after the committee meeting."),
        ],
        "questions": [
            ("What am I studying for my doctorate?", ["c1"], "paraphrase"),
            ("Which animals do I run experiments on?", ["c1"], "paraphrase"),
            ("When is the first paper draft due to my supervisor?", ["c2"], "date"),
            ("Which band is Théo in?", ["c3"], "name"),
            ("What instrument does my boyfriend play?", ["c3"], "paraphrase"),
            ("What is Aisha training to become?", ["c4"], "name"),
            ("Where do I go climbing?", ["c5"], "paraphrase"),
            ("Why can't I go running in winter?", ["c6"], "paraphrase"),
            ("When is my visa appointment?", ["c7"], "date"),
            ("Which class am I a TA for?", ["c8"], "keyword"),
            ("Where does Odette live?", ["c9"], "name"),
            ("What is happening on 30 March?", ["c10"], "date"),
            ("Why was the paper rejected?", ["c11"], "keyword"),
            ("What did Gagnon suggest after the rejection?", ["c12"], "name"),
            ("What injury did I get?", ["c13"], "paraphrase"),
            ("What hobby did I take up while I was injured?", ["c14"], "paraphrase"),
            ("How long is my new visa valid for?", ["c15"], "keyword"),
            ("What does Lucas do for work?", ["c16"], "name"),
            ("Who is Manon?", ["c16"], "name"),
            ("How was Grandma's birthday party?", ["c17"], "paraphrase"),
            ("Do I eat meat?", ["c18"], "paraphrase"),
            ("Where is the FENS conference?", ["c19"], "keyword"),
            ("When is my conference talk?", ["c19"], "date"),
            ("Why do I need a new flatmate?", ["c20"], "paraphrase"),
            ("What did I make in pottery class?", ["c22"], "keyword"),
            ("When is the thesis committee meeting?", ["c23"], "date"),
            ("Who showed interest in me after my talk?", ["c24"], "paraphrase"),
            ("How much is my stipend?", ["c25"], "keyword"),
            ("How much do I pay in rent?", ["c25"], "paraphrase"),
            ("When is Théo touring?", ["c26"], "name"),
            ("Am I climbing again?", ["c27"], "paraphrase"),
            ("Which journal accepted my paper?", ["c28"], "keyword"),
            ("What am I considering doing after my committee meeting?", ["c30"], "paraphrase"),
            ("Who is Kenji?", ["c21"], "name"),
            ("Where is Théo's album launch gig?", ["c10"], "name"),
            ("When is my brother's wedding?", ["c29", "c16"], "multi-hop"),
            (
                "Where will my brother get married, and what does he do for a living?",
                ["c29", "c16"],
                "multi-hop",
            ),
            (
                "Which institute's postdoc am I considering, and how did they find me?",
                ["c30", "c24"],
                "multi-hop",
            ),
            ("What happened to the paper after Gagnon's suggestion?", ["c12", "c28"], "multi-hop"),
            (
                "What replaced climbing while my finger healed, and what did I make there?",
                ["c14", "c22"],
                "multi-hop",
            ),
            ("Who is moving into Aisha's room, and why is she leaving?", ["c21", "c20"], "multi-hop"),
            ("How old is my grandmother turning, and how was the celebration?", ["c9", "c17"], "multi-hop"),
        ],
    },
    "dev": {
        "chatter": [
            "Marcus spent the whole weekend in the workshop.",
            "Marcus cut his hand on a chisel, nothing serious.",
            "Olivia scheduled a planning meeting at 8am, ugh.",
            "Olivia wants a postmortem document by Friday.",
            "Another incident tonight, the payments queue backed up.",
            "Our model flagged a bunch of false positives today.",
            "Mango screamed through my entire standup.",
            "Mango chewed the cord of my headphones.",
            "I found an old photo of my dad at the beach.",
            "Mum called and asked when I'm visiting.",
            "Mum worries that I work too much.",
            "I miss sweet chai so much.",
            "Swim lesson was rough, I swallowed half the pool.",
            "My swim instructor is very patient with me.",
            "Ravi sent me a pitch deck to look at.",
            "Ravi and I got dumplings and talked for hours.",
            "Hockey was brutal, I got hit in the mask twice.",
            "We lost 5-2 on Friday, my fault mostly.",
            "I'm so tired, I could sleep for a week.",
            "Therapy was hard this week, we talked about my dad.",
            "Dr. Levin asked me what rest looks like for me.",
            "The mortgage broker keeps asking for more documents.",
            "House viewings every weekend, I'm sick of them.",
            "Boxes everywhere in the new house, it's chaos.",
            "The new house has a tree in the backyard that Marcus loves.",
            "My legs are sore from all the walking.",
            "The blood test is next week and I'm nervous.",
            "Interviewing with other companies feels like cheating.",
            "Handover documents for my team take forever.",
            "Marcus wants to get a second bird, absolutely not.",
            "I'm dreading the goodbye lunch at work.",
            "Cooking dinner for Marcus tonight, trying a new recipe.",
            "Work was fine, I left on time for once.",
        ],
        "start": "2026-01-15",
        "people": ["Marcus", "Olivia", "Ravi", "Sunita", "Dr. Levin", "Mango"],
        "hobbies": ["hockey", "swimming", "cooking", "walking after dinner"],
        "places": ["Toronto", "the office", "Leslieville", "Delhi"],
        "pet": "Mango",
        "facts": [
            (
                "d1",
                1,
                "I'm a backend engineer at a fintech company in Toronto, working on payment fraud detection.",
            ),
            ("d2", 1, "My husband Marcus is a carpenter who builds custom furniture in his own workshop."),
            ("d3", 2, "My manager Olivia keeps pulling me into incident calls at 2am."),
            ("d4", 2, "We have a parrot called Mango who whistles the Jeopardy theme."),
            (
                "d5",
                3,
                "My dad passed away two years ago this March, and the anniversary always hits me hard.",
            ),
            ("d6", 3, "My mum Sunita lives in Delhi and calls me every Sunday morning."),
            (
                "d7",
                4,
                "My doctor told me my blood sugar is in the prediabetic range, so I'm cutting out sugary chai.",
            ),
            ("d8", 4, "I'm learning to swim as an adult, lessons at the Regent Park pool on Wednesdays."),
            (
                "d9",
                5,
                "Ravi, my best friend since university, wants me to co-found a startup for restaurant inventory software.",
            ),
            ("d10", 5, "I play goalie in a rec hockey league on Friday nights."),
            ("d11", 6, "I think I'm burning out; I haven't taken a real holiday in eighteen months."),
            (
                "d12",
                6,
                "Dr. Levin, my therapist, asked me to notice when I say yes to things I don't want to do.",
            ),
            ("d13", 7, "Marcus and I put an offer on a semi-detached house in Leslieville."),
            ("d14", 7, "The offer was 1.1 million and I'm terrified of the mortgage."),
            ("d15", 8, "We got the house! Closing date is 15 June."),
            ("d16", 8, "I swam my first full length of the pool without stopping today."),
            ("d17", 9, "I told Olivia I won't be on call more than one week a month anymore."),
            ("d18", 9, "My A1C came back lower after three months of walking after dinner."),
            ("d19", 10, "Mum is flying in from Delhi on 2 December and staying through New Year."),
            ("d20", 11, "I said no to Ravi's startup for now; the mortgage makes it too risky."),
            ("d21", 11, "Ravi took it well and asked me to be an adviser instead."),
            ("d22", 12, "Marcus is building a dining table for the new house out of reclaimed walnut."),
            ("d23", 13, "Our wedding anniversary is 11 October; we're going to Prince Edward County."),
            ("d24", 14, "Mango learned to say 'good morning' in Marcus's voice."),
            ("d25", 15, "I took two weeks off and went hiking in the Rockies near Banff."),
            ("d26", 16, "Our hockey team, the Beaver Tails, won the league final and I made 31 saves."),
            (
                "d27",
                17,
                "I got an offer from a healthtech startup: 20 percent more salary but less stability.",
            ),
            ("d28", 18, "I accepted the healthtech job; my last day at the fintech company is 30 September."),
            ("d29", 19, "I'm cooking my dad's dal recipe for Mum's visit, from his handwritten notebook."),
            (
                "d30",
                20,
                "Levin says I'm getting better at saying no; I turned down two side projects this month.",
            ),
        ],
        "questions": [
            ("What do I work on at my job?", ["d1"], "paraphrase"),
            ("What does Marcus do?", ["d2"], "name"),
            ("Who keeps waking me up for incidents?", ["d3"], "paraphrase"),
            ("What kind of pet do we have?", ["d4"], "paraphrase"),
            ("What tune does the bird whistle?", ["d4"], "paraphrase"),
            ("Why is March difficult for me?", ["d5"], "paraphrase"),
            ("When does my mother call me?", ["d6"], "paraphrase"),
            ("What did the doctor say about my blood sugar?", ["d7"], "keyword"),
            ("Where are my swimming lessons?", ["d8"], "keyword"),
            ("What business idea does Ravi have?", ["d9"], "name"),
            ("What position do I play in hockey?", ["d10"], "paraphrase"),
            ("How long has it been since my last vacation?", ["d11"], "paraphrase"),
            ("What did my therapist ask me to pay attention to?", ["d12"], "paraphrase"),
            ("Which neighbourhood is the house in?", ["d13"], "keyword"),
            ("How much did we offer for the house?", ["d14"], "keyword"),
            ("When do we close on the house?", ["d15"], "date"),
            ("What swimming milestone did I reach?", ["d16"], "paraphrase"),
            ("What boundary did I set with Olivia?", ["d17"], "name"),
            ("Did my blood test results improve?", ["d18"], "paraphrase"),
            ("When is Mum arriving?", ["d19"], "date"),
            ("What role did Ravi offer me instead?", ["d21"], "name"),
            ("What wood is the dining table made from?", ["d22"], "keyword"),
            ("When is our anniversary?", ["d23"], "date"),
            ("Where are we going for the anniversary?", ["d23"], "keyword"),
            ("What can Mango say?", ["d24"], "name"),
            ("Where did I go on my break?", ["d25"], "paraphrase"),
            ("What is my hockey team called?", ["d26"], "keyword"),
            ("How many saves did I make in the final?", ["d26"], "keyword"),
            ("What job offer did I get?", ["d27"], "keyword"),
            ("When is my last day at my current company?", ["d28"], "date"),
            ("What is happening on 15 June?", ["d15"], "date"),
            ("Who is Dr. Levin?", ["d12"], "name"),
            ("Who is Ravi?", ["d9"], "name"),
            ("Am I getting better at saying no?", ["d30"], "paraphrase"),
            ("What did I decide about the startup, and what did Ravi suggest?", ["d20", "d21"], "multi-hop"),
            ("What furniture is Marcus making, and for which house?", ["d22", "d13"], "multi-hop"),
            ("Whose recipe am I cooking, and when does the guest arrive?", ["d29", "d19"], "multi-hop"),
            ("Has walking after dinner helped with the prediabetes?", ["d18", "d7"], "multi-hop"),
            (
                "How much more would the new job pay, and when do I leave my current one?",
                ["d27", "d28"],
                "multi-hop",
            ),
            ("Why did I turn down the startup?", ["d20", "d14"], "multi-hop"),
            ("Where does my mother live, and when is she visiting?", ["d6", "d19"], "multi-hop"),
            ("What does my husband do, and what is he building for us?", ["d2", "d22"], "multi-hop"),
        ],
    },
    "elin": {
        "chatter": [
            "Jonas came home after a rough shift and didn't want to talk.",
            "Jonas and I finally had an evening together.",
            "Viktor smells of engine oil all the time.",
            "Viktor and Ali were in the garage until ten.",
            "Saga spends every afternoon at the stables.",
            "Saga fell off during training but she's fine.",
            "Stella threw a shoe and the farrier came out.",
            "Visiting Dad is getting harder each time.",
            "The care home staff are so kind to Dad.",
            "Choir rehearsal ran late, my voice is tired.",
            "We're learning a difficult hymn in choir.",
            "Henrik brought cinnamon buns to the staff room.",
            "Henrik and I argued about homework policy.",
            "Marking essays all weekend, again.",
            "My students were restless before the holiday.",
            "Karin called, she's swamped at work.",
            "Karin and I talked about selling Dad's flat.",
            "My ears were ringing all evening after rehearsal.",
            "I drafted my application letter three times.",
            "The interview panel looked so serious.",
            "Maja and I went for a long walk by the river.",
            "Maja wants me to join her book club.",
            "A glass of wine on a Tuesday feels so normal, that's the problem.",
            "Saga is nervous about jumping in front of judges.",
            "Looking at routes on the map with Jonas.",
            "I bought a waterproof bag for the trip.",
            "Jonas's arm is in a sling and he hates being idle.",
            "We're collecting money for Henrik's leaving gift.",
            "Planning lessons about medieval Sweden.",
            "The department meeting was long and pointless.",
            "Saga keeps showing me horse adverts online.",
            "Rehearsing in the car on the way to work.",
            "Snow in Uppsala already, the kids are thrilled.",
        ],
        "start": "2026-01-19",
        "people": ["Jonas", "Viktor", "Saga", "Lars", "Karin", "Maja", "Henrik"],
        "hobbies": ["the choir", "kayaking", "the sauna", "reading crime novels"],
        "places": ["Uppsala", "school", "the stables", "Enköping"],
        "pet": "Stella",
        "facts": [
            ("e1", 1, "I teach history and Swedish at an upper secondary school in Uppsala."),
            ("e2", 1, "My partner Jonas works as a paramedic, so his shifts change every week."),
            (
                "e3",
                2,
                "Viktor is fifteen and spends every spare minute building a moped with his friend Ali.",
            ),
            ("e4", 2, "Saga, my twelve-year-old, rides a horse called Stella at the stables in Håga."),
            (
                "e5",
                3,
                "My father Lars has early dementia and moved into a care home in Enköping last autumn.",
            ),
            ("e6", 3, "I sing alto in a choir that rehearses on Monday evenings in the cathedral."),
            (
                "e7",
                4,
                "Henrik, who teaches maths across the hall, thinks I should apply for deputy principal.",
            ),
            ("e8", 4, "The application for deputy principal closes on 31 January."),
            ("e9", 5, "My sister Karin lives in Gothenburg and works as a lawyer for a shipping company."),
            (
                "e10",
                5,
                "I've had tinnitus since a concert in my twenties, and it gets worse when I'm stressed.",
            ),
            ("e11", 6, "I got an interview for the deputy principal job on 12 February."),
            ("e12", 6, "Dad didn't recognise me on Sunday; he thought I was his sister Britt."),
            ("e13", 7, "Saga has her first show-jumping competition on 22 March."),
            ("e14", 7, "Jonas and I are planning a kayaking trip in the Stockholm archipelago in July."),
            ("e15", 8, "I didn't get the deputy job; they hired someone from Stockholm."),
            ("e16", 8, "Maja, my oldest friend, dragged me to a sauna and a cold plunge to cheer me up."),
            ("e17", 9, "Saga came third in the show jumping and cried happy tears."),
            ("e18", 9, "I'm trying to cut down on wine during the week; I've managed three dry weeks."),
            ("e19", 10, "Viktor's moped finally runs, and he rode it to school on Monday."),
            ("e20", 11, "Karin is coming up from Gothenburg to visit Dad with me at Easter."),
            (
                "e21",
                12,
                "The choir's Christmas concert is on 13 December in Uppsala Cathedral, and I have a short solo.",
            ),
            ("e22", 13, "We booked the kayaks for 8 July, five days paddling between the islands."),
            ("e23", 14, "Henrik is retiring in June and the staff are planning a surprise party."),
            ("e24", 15, "Jonas hurt his shoulder lifting a patient and is on sick leave for a month."),
            ("e25", 16, "The kayak trip was magical, we saw seals near Möja."),
            ("e26", 17, "Dad had a good day; we looked at old photos of his sailing boat."),
            ("e27", 18, "I'm writing a teaching unit on the Vikings for my first-year students."),
            ("e28", 19, "The principal asked me to lead the history department from August."),
            ("e29", 20, "Saga wants her own horse, but keeping one costs about 4,000 kronor a month."),
            ("e30", 20, "The solo went well, and Jonas recorded it on his phone for Dad."),
        ],
        "questions": [
            ("Which subjects do I teach?", ["e1"], "paraphrase"),
            ("What is Jonas's job?", ["e2"], "name"),
            ("What is my son building?", ["e3"], "paraphrase"),
            ("Who helps Viktor with the moped?", ["e3"], "name"),
            ("What is the name of Saga's horse?", ["e4"], "name"),
            ("Where does my father live now?", ["e5"], "paraphrase"),
            ("What illness does Dad have?", ["e5"], "paraphrase"),
            ("What voice part do I sing?", ["e6"], "paraphrase"),
            ("Who encouraged me to apply for the promotion?", ["e7"], "paraphrase"),
            ("When does the deputy principal application close?", ["e8"], "date"),
            ("What does Karin do?", ["e9"], "name"),
            ("What causes the ringing in my ears?", ["e10"], "paraphrase"),
            ("When was my job interview?", ["e11"], "date"),
            ("Who did Dad mistake me for?", ["e12"], "paraphrase"),
            ("What is happening on 22 March?", ["e13"], "date"),
            ("Where are we going kayaking?", ["e14"], "keyword"),
            ("Did I get the deputy principal job?", ["e15"], "keyword"),
            ("How did Maja cheer me up?", ["e16"], "name"),
            ("How did Saga do in the competition?", ["e17"], "name"),
            ("How many weeks have I gone without drinking?", ["e18"], "paraphrase"),
            ("Does Viktor's moped work now?", ["e19"], "name"),
            ("Who is joining me to visit Dad at Easter?", ["e20"], "paraphrase"),
            ("When is the Christmas concert?", ["e21"], "date"),
            ("When does the kayak trip start?", ["e22"], "date"),
            ("Who is retiring?", ["e23"], "keyword"),
            ("Why is Jonas on sick leave?", ["e24"], "name"),
            ("What animals did we see in the archipelago?", ["e25"], "paraphrase"),
            ("What did Dad and I look at on his good day?", ["e26"], "paraphrase"),
            ("What am I teaching the first-years about?", ["e27"], "keyword"),
            ("What new responsibility was I given at school?", ["e28"], "paraphrase"),
            ("How much does it cost to keep a horse?", ["e29"], "keyword"),
            ("What is happening on 13 December?", ["e21"], "date"),
            ("What is my daughter hoping for?", ["e29"], "paraphrase"),
            ("Who is Maja?", ["e16"], "name"),
            ("Who is Henrik?", ["e7"], "name"),
            ("Where does my sister live, and when is she visiting?", ["e9", "e20"], "multi-hop"),
            (
                "How did Saga's first show-jumping competition go, and when was it?",
                ["e13", "e17"],
                "multi-hop",
            ),
            ("When is the concert with my solo, and who recorded it?", ["e21", "e30"], "multi-hop"),
            (
                "What happened with the deputy job, and what role did I get later?",
                ["e15", "e28"],
                "multi-hop",
            ),
            ("When did we book the kayaks for, and what wildlife did we see?", ["e22", "e25"], "multi-hop"),
            ("What does my partner do, and how did he get injured?", ["e2", "e24"], "multi-hop"),
            (
                "Who suggested I apply for deputy principal, and when is he leaving?",
                ["e7", "e23"],
                "multi-hop",
            ),
        ],
    },
}

# --- small talk: the everyday turns around the facts -------------------------------------------
# {p}: one of the user's people, {h}: a hobby, {place}: a place, {pet}: the pet (or pet-like).

USER_SMALL_TALK = [
    "Morning! I slept okay for once.",
    "Hi Eliza, long day today.",
    "Hey, I only have a few minutes before work.",
    "Evening. I'm exhausted but I wanted to check in.",
    "I had a long chat with {p} today, it was nice.",
    "{p} sent me a really funny video this afternoon.",
    "I'm a bit annoyed with {p}, but it's probably nothing.",
    "{p} and I had dinner together, just pasta at home.",
    "I keep meaning to call {p} back and I keep forgetting.",
    "I didn't sleep well, my mind kept racing.",
    "Work was busy, back-to-back meetings all afternoon.",
    "I feel a bit low today and I'm not sure why.",
    "Honestly I feel pretty good this week.",
    "The weather in {place} has been grey all week.",
    "I finally cleaned the kitchen, which feels like a win.",
    "I want to spend more time on {h} but there's never enough time.",
    "I made some time for {h} this weekend and it helped my mood.",
    "I'm trying to drink more water and less coffee.",
    "I scrolled on my phone until midnight again.",
    "I need to sort out my emails, there are hundreds.",
    "I went for a short walk at lunch, the fresh air helped.",
    "I've been thinking about what I actually want this year.",
    "{p} asked how I'm doing and I didn't really know what to say.",
    "I cooked something new tonight and it was actually good.",
    "I'm tired of feeling behind on everything.",
    "{pet} was being ridiculous again today.",
    "I watched a documentary last night instead of going to bed.",
    "I had a small argument with {p} about chores.",
    "Not much happened today, just the usual.",
    "I'm proud that I stuck to my plan today.",
    "Can we talk about something that's been on my mind?",
    "I keep procrastinating on small admin tasks.",
    "My shoulders are tense, I think it's stress.",
    "I spent the whole afternoon in {place}.",
    "Thanks, that actually helps.",
    "Yeah, I think you're right.",
    "I'll try that tonight.",
    "Okay, I need to go now. Talk tomorrow!",
    "Good night, Eliza.",
    "That's a good point, I hadn't thought of it that way.",
    "I'm not sure, maybe. I'll think about it.",
    "It's been a strange week, lots of ups and downs.",
    "I bought a new notebook to plan the week.",
    "I was on my phone with {p} for an hour.",
    "I forgot to eat breakfast again.",
    "The house was noisy and I couldn't focus.",
    "I'm looking forward to the weekend.",
    "I want to be kinder to myself about {h}.",
]

ELIZA_SMALL_TALK = [
    "Thanks for checking in. How are you feeling right now?",
    "That sounds like a lot. What would help you most tonight?",
    "I'm glad you told me. What's on your mind?",
    "Small wins count. What made today work?",
    "It makes sense to feel that way after a long day.",
    "Would a short walk or an early night help?",
    "What's one small thing you could do for yourself tomorrow?",
    "I hear you. Do you want to talk it through or just vent?",
    "That's worth celebrating, even quietly.",
    "How did {p} react?",
    "It sounds like {p} matters a lot to you.",
    "Maybe {h} could be your reset this week?",
    "Sleep affects everything. Shall we plan a calmer evening?",
    "Sounds good. Talk tomorrow!",
    "Good night, rest well.",
    "You don't have to figure it all out today.",
    "What would make tomorrow a little easier?",
    "That's a thoughtful way to look at it.",
    "Let's keep it simple: one step at a time.",
    "I'm here whenever you want to talk.",
]

# Other things that happen in a life, with names, dates and numbers: each filled with the user's
# people, and with dates, cities and amounts that never collide with the user's facts, so that
# they answer no question while looking like the turns that do.
EVENTS = [
    "{p} and I {act} on {date}.",
    "On {date} I {act} with {p}, it was lovely.",
    "{p} has a job interview on {date}, fingers crossed.",
    "I paid {num} {cur} for {thing} last week.",
    "{p} recommended {rec} and I loved it.",
    "{p} is moving to {city} in {month}.",
    "{p}'s birthday is on {date}, I need to find a present.",
    "I booked {booking} for {date}.",
    "{p} and {p2} are going to {city} for a long weekend.",
    "I've been reading a lot about {topic} lately.",
    "{p} lent me {num} {cur} until the end of the month.",
    "There's a work party on {date} and I'm not sure I'll go.",
    "{p} started a new job at a bank in {city}.",
    "{p} is training for a {sport} competition in {month}.",
    "I signed up for a {course} course that starts on {date}.",
    "{p} and I argued about {topic} for an hour.",
]
ACTS = [
    "went to the cinema",
    "had lunch in town",
    "went to a concert",
    "cooked a big dinner",
    "went for a long walk",
    "visited a flea market",
    "went to a birthday party",
    "watched the football",
    "went to a museum",
    "had brunch",
]
THINGS = [
    "a new lamp",
    "concert tickets",
    "a second-hand bike",
    "a winter coat",
    "new headphones",
    "a desk chair",
]
RECS = ["a podcast about history", "a Korean film", "a new ramen place", "a crime novel", "a yoga app"]
BOOKINGS = ["a haircut", "a dentist appointment", "the car service", "a table at a restaurant", "an eye test"]
TOPICS = ["investing", "sleep science", "Roman history", "minimalism", "electric cars", "politics"]
SPORTS = ["tennis", "swimming", "chess", "judo"]
COURSES = ["photography", "first aid", "Spanish", "woodworking", "public speaking"]
CITIES = [
    "Madrid",
    "Berlin",
    "Edinburgh",
    "Vancouver",
    "Copenhagen",
    "Rome",
    "Dublin",
    "Prague",
    "Bristol",
    "Oslo",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
CURRENCY = {"ana": "euros", "ben": "pounds", "chloe": "dollars", "dev": "dollars", "elin": "kronor"}

# How many other sentences of the day share a message with a fact, or with a small-talk sentence:
# people write to a companion in paragraphs that mix topics, not one fact per message.
FACT_EXTRAS = [0, 1, 1, 2, 2]
SMALL_EXTRAS = [0, 0, 1, 1, 2]

# A second sentence added to half of the small-talk turns, so that few of them repeat word for word.
USER_TAILS = [
    "Anyway, how are you?",
    "I think I just need a quiet evening.",
    "{p} says hi, by the way.",
    "Maybe I'll feel different tomorrow.",
    "It's been on my mind since {place}.",
    "I should probably get some rest.",
    "At least {pet} kept me company.",
    "I keep thinking about {h}.",
    "Not a big deal, just wanted to say it.",
    "I'm trying to take it one day at a time.",
    "I'll tell {p} about it later.",
    "The coffee in {place} didn't help.",
]

ELIZA_TAILS = [
    "No pressure either way.",
    "I'm listening.",
    "Take your time.",
    "We can come back to it later.",
    "You've handled harder weeks than this.",
    "Say hi to {p} from me.",
]

ELIZA_REPLIES = [
    "That's a big deal. How are you feeling about it?",
    "Thank you for telling me, I'll remember that.",
    "Oh, that's wonderful news!",
    "That sounds hard. What support do you have?",
    "How exciting! What's the next step?",
    "That makes sense. Is there anything you want to plan around it?",
    "I can hear how much this means to you.",
    "Got it. Do you want a reminder closer to the time?",
    "That's a lot to carry. Be gentle with yourself.",
    "Nice! What made it possible?",
]


def _fill(template: str, profile: dict, rng: random.Random) -> str:
    return template.format(
        p=rng.choice(profile["people"]),
        h=rng.choice(profile["hobbies"]),
        place=rng.choice(profile["places"]),
        pet=profile["pet"],
    )


def _event(name: str, profile: dict, rng: random.Random) -> str:
    facts = " ".join(text for _, _, text in profile["facts"])
    while True:
        day, month = rng.randint(1, 28), rng.choice(MONTHS)
        if f"{day} {month}" not in facts:
            break
    cities = [c for c in CITIES if c not in facts]
    first, second = rng.sample(profile["people"], 2)
    return rng.choice(EVENTS).format(
        p=first,
        p2=second,
        act=rng.choice(ACTS),
        date=f"{day} {month}",
        month=rng.choice(MONTHS),
        num=rng.choice([35, 60, 120, 250, 75, 480]),
        cur=CURRENCY[name],
        thing=rng.choice(THINGS),
        rec=rng.choice(RECS),
        city=rng.choice(cities),
        booking=rng.choice(BOOKINGS),
        topic=rng.choice(TOPICS),
        sport=rng.choice(SPORTS),
        course=rng.choice(COURSES),
    )


def _kind(rng: random.Random) -> str:
    draw = rng.random()
    return "event" if draw < EVENT_SHARE else "chatter" if draw < EVENT_SHARE + CHATTER_SHARE else "small"


def _sentence(kind: str, name: str, profile: dict, rng: random.Random) -> str:
    if kind == "event":
        return _event(name, profile, rng)
    if kind == "chatter":
        return _fill(rng.choice(profile["chatter"]), profile, rng)
    return _fill(rng.choice(USER_SMALL_TALK), profile, rng)


def _message(main: str, extras: int, name: str, profile: dict, rng: random.Random) -> str:
    """A user message: ``main`` among ``extras`` other sentences of the user's day."""
    sentences = [_sentence(_kind(rng), name, profile, rng) for _ in range(extras)]
    sentences.insert(rng.randint(0, extras), main)
    if rng.random() < 0.3:
        sentences.append(_fill(rng.choice(USER_TAILS), profile, rng))
    return " ".join(sentences)


def _small_talk(pool: list[str], tails: list[str], profile: dict, rng: random.Random) -> str:
    text = _fill(rng.choice(pool), profile, rng)
    if rng.random() < 0.5:
        text += " " + _fill(rng.choice(tails), profile, rng)
    return text


def build_user(name: str, profile: dict, rng: random.Random) -> tuple[list[dict], dict[str, str]]:
    """The user's sessions and a map from fact label to turn id."""
    by_session: dict[int, list[tuple[str, str]]] = {}
    for label, session, text in profile["facts"]:
        by_session.setdefault(session, []).append((label, text))
    start = date.fromisoformat(profile["start"])
    sessions: list[dict] = []
    labels: dict[str, str] = {}
    day = start
    for number in range(1, SESSIONS + 1):
        turns: list[tuple[str, str, str | None]] = []  # (speaker, text, fact label)
        facts = by_session.get(number, [])
        small_pairs = (TURNS_PER_SESSION - 2 * len(facts)) // 2
        slots = ["small"] * small_pairs + ["fact"] * len(facts)
        # Facts never open a session: a greeting comes first, as in a real chat.
        rest = slots[1:]
        rng.shuffle(rest)
        slots = slots[:1] + rest
        pending = list(facts)
        for slot in slots:
            if slot == "fact":
                label, text = pending.pop(0)
                turns.append(("user", _message(text, rng.choice(FACT_EXTRAS), name, profile, rng), label))
                turns.append(("assistant", _fill(rng.choice(ELIZA_REPLIES), profile, rng), None))
            else:
                kind = _kind(rng)
                extras = rng.choice(SMALL_EXTRAS)
                turns.append(
                    ("user", _message(_sentence(kind, name, profile, rng), extras, name, profile, rng), None)
                )
                pool = ELIZA_REPLIES if kind == "event" else ELIZA_SMALL_TALK
                turns.append(("assistant", _small_talk(pool, ELIZA_TAILS, profile, rng), None))
        session_id = f"{name}-s{number:02d}"
        out_turns = []
        for index, (speaker, text, label) in enumerate(turns, start=1):
            turn_id = f"{session_id}-t{index:02d}"
            if label is not None:
                labels[label] = turn_id
            out_turns.append({"id": turn_id, "speaker": speaker, "text": text})
        sessions.append({"id": session_id, "date": day.isoformat(), "turns": out_turns})
        day += timedelta(days=rng.randint(9, 16))
    return sessions, labels


def build() -> dict:
    rng = random.Random(20261129)
    users: dict[str, dict] = {}
    questions: list[dict] = []
    for name, profile in USERS.items():
        sessions, labels = build_user(name, profile, rng)
        users[name] = {"held_out": name in HELD_OUT, "sessions": sessions}
        for number, (question, evidence, kind) in enumerate(profile["questions"], start=1):
            questions.append(
                {
                    "id": f"{name}-q{number:02d}",
                    "user": name,
                    "question": question,
                    "evidence": [labels[label] for label in evidence],
                    "type": kind,
                }
            )
    return {
        "description": (
            "Long multi-session conversations between five users and Eliza (20 sessions x 16 turns "
            "each), with questions labelled by the ids of the turns that answer them. Generated by "
            "bench/data/make_memory_conversations.py (hand-written facts and questions, seeded small "
            "talk). Users marked held_out are never used for tuning."
        ),
        "users": users,
        "questions": questions,
    }


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    turns = sum(len(s["turns"]) for u in data["users"].values() for s in u["sessions"])
    print(f"wrote {OUT}: {len(data['users'])} users, {turns} turns, {len(data['questions'])} questions")


if __name__ == "__main__":
    main()
