"""The offline planner: a deterministic, goal-specific decomposition without a language model.

The same goal always yields the same plan. What makes it specific to the goal:

- its own words: the title (quoted) is the *focus* of the plan, and its telling words (title
  first, then description, stop words dropped, a leading verb turned into "running"/"writing")
  name what to practise, research or talk about;
- its type: concrete goals follow a measurable arc (baseline → reps → rhythm → stretch →
  blockers → rehearsal → target) whose "measure" steps quote any number in the goal ("10k",
  "20 pages"); abstract goals follow an exploration arc (meaning → experiments → noticing →
  deepening → sharing → everyday life → looking back) with reflection steps;
- its value category: the vocabulary of practice, evidence, support and care (a training log
  for health, a work-in-progress folder for craft, notes in your own words for growth, a journal
  of moments together for connection);
- its size: more milestones for important, concrete, well-described or long-horizon goals, and a
  seed from the title choosing which optional steps a stage leaves out.

Output: 3–7 milestones and 10–20 missions of 10–30 minutes mixing low, medium and high energy.
``continuation`` generates the orchestrator's top-up missions, one per index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from app.kit.text import STOP_WORDS, clip
from app.models.enums import EnergyLevel, GoalType, ValueCategory

MIN_MILESTONES, MAX_MILESTONES = 3, 7
MIN_MISSIONS, MAX_MISSIONS = 10, 20
MIN_MINUTES, MAX_MINUTES = 10, 30


@dataclass(frozen=True)
class GoalBrief:
    title: str
    description: str
    goal_type: GoalType
    value_category: ValueCategory
    importance: int = 3
    target_date: date | None = None


@dataclass(frozen=True)
class DraftMission:
    title: str
    description: str
    estimated_minutes: int
    energy_level: EnergyLevel


@dataclass(frozen=True)
class DraftMilestone:
    title: str
    description: str
    missions: tuple[DraftMission, ...]


@dataclass(frozen=True)
class Vocabulary:
    practice: str  # one unit of doing the thing
    evidence: str  # what the user keeps as proof of progress
    support: str  # who helps
    care: str  # what keeps the effort sustainable


VOCABULARY: Final = {
    "health": Vocabulary("session", "a simple training log", "a training buddy", "sleep, food and rest"),
    "craft": Vocabulary(
        "practice block", "a work-in-progress folder", "someone whose work you admire", "your workspace"
    ),
    "growth": Vocabulary("study block", "a learning journal", "a study partner", "a distraction-free hour"),
    "connection": Vocabulary(
        "conversation", "a journal of moments together", "a friend who knows you", "unhurried time"
    ),
}

# Words that never name what a goal is about (plus the function words every domain skips).
_STOPWORDS: Final = STOP_WORDS | frozenset(
    """above after against because before below better between during few further get gets getting go
    goal going good here hers how i'd i'll itself learn like make more most nor now once only other
    own same start such there through until want way week weeks what when where which while who why
    year years finally become achieve improve try keep new much many lot lots day days month months
    time times per finish complete reach without january february march april june july august
    september october november december monday tuesday wednesday thursday friday saturday sunday
    tomorrow today tonight""".split()  # noqa: SIM905
)
# Goal titles often start with a verb ("Run a 10k"); as a topic it reads better as "running".
_VERBS: Final = frozenset(
    """bake build climb code cook cycle dance draw garden hike jog journal knit lift meditate paint plan
    play practise practice read ride row run save sing sketch ski speak stretch study swim train travel
    volunteer walk write""".split()  # noqa: SIM905
)
_LEAD_INS: Final = re.compile(
    r"^(?:i\s+(?:really\s+)?(?:want|would like|'d like|need|hope|plan)\s+to\s+|i\s+will\s+|"
    r"i'?m\s+going\s+to\s+|to\s+)",
    re.IGNORECASE,
)
_UNITS: Final = (
    "pages?|books?|words?|minutes?|hours?|days?|times?|sessions?|songs?|chapters?|miles?|push-?ups?|"
    "steps?|pieces?|posts?|lessons?|people|friends?|calls?|dinners?|letters?|drawings?|sketches?|poems?|"
    "stories|apps?|projects?|courses?|languages?|pounds?|kilos?|meters?|metres?"
)
_MEASURE: Final = re.compile(
    rf"\b\d+(?:[.,]\d+)?(?:\s*(?:k|km|kg|lbs?|%)\b|\s+(?:{_UNITS})\b|k\b)?", re.IGNORECASE
)


def focus_of(title: str) -> str:
    """The goal quoted, to slot into sentences: lead-ins ("I want to") dropped, capitalised."""
    focus = _LEAD_INS.sub("", " ".join(title.split())).rstrip(" .!?") or title.strip()
    return f"“{_clip(focus[0].upper() + focus[1:], 80)}”"


def _clip(text: str, limit: int) -> str:
    return clip(" ".join(text.split()), limit)


def _gerund(verb: str) -> str:
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    if len(verb) == 3 and verb[-1] not in "aeiouwxy" and verb[-2] in "aeiou" and verb[0] not in "aeiou":
        return verb + verb[-1] + "ing"  # run → running, jog → jogging
    return verb + "ing"


def keywords(*texts: str, limit: int = 4) -> list[str]:
    """The goal's telling words as topics, in order of appearance, title first.

    Proper nouns keep their capital ("Spanish"); a leading verb becomes a gerund ("running").
    """
    found: list[str] = []
    for text in texts:
        for position, match in enumerate(re.finditer(r"[A-Za-z][A-Za-z'+#-]*[A-Za-z+#]", text)):
            raw = match.group(0)
            word = raw.lower()
            if len(word) < 3 or word in _STOPWORDS:
                continue
            if position == 0 and word in _VERBS:
                word = _gerund(word)
            elif raw[0].isupper() and position > 0:
                word = raw
            if word.lower() in {seen.lower() for seen in found}:
                continue
            found.append(word)
            if len(found) == limit:
                return found
    return found


def measure_of(*texts: str) -> str | None:
    """The first number in the goal, with its unit ("10k", "20 pages"), if any."""
    for text in texts:
        match = _MEASURE.search(text)
        if match:
            return match.group(0).strip()
    return None


def _seed(brief: GoalBrief) -> int:
    key = f"{brief.title.strip().lower()}|{brief.goal_type}|{brief.value_category}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


# --- templates --------------------------------------------------------------------------------
# One mission per line: "title | description | minutes | energy". Fields: {focus} (the quoted
# goal), {kw} and {kw2} (its telling words), {measure} (a number from the goal, else "your
# target"), and the category's {practice}, {evidence}, {support} and {care}.


@dataclass(frozen=True)
class Template:
    title: str
    description: str
    minutes: int
    energy: str


def _templates(block: str) -> tuple[Template, ...]:
    rows = []
    for line in block.strip().splitlines():
        title, description, minutes, energy = (part.strip() for part in line.split("|"))
        rows.append(Template(title, description, int(minutes), energy))
    return tuple(rows)


@dataclass(frozen=True)
class Stage:
    title: str
    description: str
    missions: tuple[Template, ...]


def _stage(title: str, description: str, block: str) -> Stage:
    return Stage(title, description, _templates(block))


CONCRETE_ARC: Final = (
    _stage(
        "Know where you stand",
        "Measure the starting point for {focus} and decide how progress will be counted.",
        """
        Measure your starting point | Record where you stand against {measure} in {evidence}. | 20 | medium
        Write the finish line down | Describe in two sentences what done looks like for {focus}. | 10 | low
        List what the goal needs | List the time, tools and help {focus} needs; circle the gap. | 15 | low
        Block three slots this week | Put three {practice}s on {kw} in your calendar. | 10 | low
        Try a first {practice} on {kw} | An easy first {practice}; note how it felt. | 25 | high
        """,
    ),
    _stage(
        "First small reps",
        "Short, repeatable {practice}s that make {focus} feel doable.",
        """
        Do a short {practice} on {kw} | Keep it small enough to finish: the point is to show up. | 15 | medium
        Log today's {practice} | Add what you did and one number to {evidence}. | 10 | low
        Repeat it a little better | The same {practice} on {kw}, with one small improvement. | 20 | high
        Prepare tomorrow's {practice} | Lay out what you need so starting takes no decision. | 10 | low
        Learn one technique for {kw} | Find a technique that makes {kw} easier; try it once. | 20 | medium
        """,
    ),
    _stage(
        "Build a steady rhythm",
        "Make {focus} a regular part of the week.",
        """
        Keep the rhythm with a {practice} on {kw} | Even a short one keeps the rhythm going. | 20 | medium
        Review the week in {evidence} | What went well, and what will you change next week? | 15 | low
        Push one {practice} a bit further | Add a few minutes or one more repetition on {kw2}. | 25 | high
        Protect {care} | Decide how you will keep {care} on busy days. | 10 | low
        Tell {support} about your plan | Share what you are aiming for and ask them to check in. | 10 | medium
        """,
    ),
    _stage(
        "Stretch the effort",
        "Go a step beyond what feels comfortable with {focus}.",
        """
        Attempt a harder {practice} | Choose the hardest part of {kw} you can manage today. | 30 | high
        Measure progress against {measure} | Compare today with your start in {evidence}. | 15 | medium
        Fix one weak spot | Pick the weakest part of {kw2} and give it a focused {practice}. | 25 | high
        Recover on purpose | Look after {care}; note how recovery changes your energy. | 10 | low
        """,
    ),
    _stage(
        "Clear the blockers",
        "Remove what keeps slowing {focus} down.",
        """
        Name your biggest blocker | Write down what stopped you most often and one way around it. | 10 | low
        Ask {support} for one tip | Ask one specific question about {kw}. | 15 | medium
        Try the workaround | Do one {practice} using the workaround you chose. | 25 | high
        Simplify your setup | Remove one step between you and starting a {practice}. | 15 | low
        """,
    ),
    _stage(
        "Rehearse the finish",
        "A dress rehearsal of {focus} under realistic conditions.",
        """
        Plan the rehearsal | Decide when, where and how you will rehearse {measure}. | 10 | low
        Run a partial rehearsal | Do most of the real thing for {kw}; note what was hard. | 30 | high
        Adjust from the rehearsal | Change one thing in your plan based on the rehearsal. | 15 | medium
        Prepare for the day | Get everything ready for the final attempt, including {care}. | 15 | low
        """,
    ),
    _stage(
        "Reach the target",
        "Do it: {focus}.",
        """
        Go for {measure} | Make the attempt you have been preparing for, and record what happens. | 30 | high
        Record the result | Write the result in {evidence} next to your starting point. | 10 | low
        Celebrate with {support} | Share what you achieved with {support}. | 15 | medium
        Choose what comes next | Keep, raise or change the target for {focus}? | 15 | low
        """,
    ),
)

ABSTRACT_ARC: Final = (
    _stage(
        "Explore what it means to you",
        "Find out what {focus} looks like in your own life.",
        """
        Write what the goal means to you | Free-write for ten minutes: why does {focus} matter now? | 15 | low
        Picture a good day | Describe a day in which {focus} is true; what is different? | 15 | low
        Collect three examples of {kw} | Find three people, works or moments that show {kw}. | 20 | medium
        Notice where you already do it | List moments this week that already had some {kw}. | 10 | low
        Talk it through with {support} | Ask what {focus} could look like for you. | 20 | medium
        """,
    ),
    _stage(
        "Try small experiments",
        "Small, safe experiments with {focus}.",
        """
        Run a small experiment with {kw} | One small action connected to {kw}; keep it light. | 15 | medium
        Try something new around {kw2} | Do one thing you have not tried before around {kw2}. | 25 | high
        Note what the experiment taught you | Add a few lines to {evidence}. | 10 | low
        Make room with {care} | Arrange {care} so the next experiment has space. | 10 | low
        Repeat the experiment you liked best | Do it again: does it still feel right? | 20 | medium
        """,
    ),
    _stage(
        "Notice what works",
        "Pay attention to what brings you closer to {focus}.",
        """
        Reflect on your experiments | Which one gave you energy, and which one drained it? | 15 | low
        Spot a pattern | Look through {evidence} for something that keeps recurring. | 15 | low
        Double down on what worked | Give the most promising action a full {practice}. | 25 | high
        Ask for an outside view | Ask {support} what they have noticed changing in you. | 15 | medium
        """,
    ),
    _stage(
        "Deepen the practice",
        "Turn the best experiment into a regular practice of {focus}.",
        """
        Design a weekly ritual | Choose when and how {kw} happens each week. | 15 | medium
        Do the ritual for the first time | A full {practice} of your new ritual around {kw}. | 25 | high
        Learn from someone further along | Read, watch or listen to someone who lives {kw} well. | 20 | medium
        Write a short reflection | How did the ritual feel? Note it in {evidence}. | 10 | low
        """,
    ),
    _stage(
        "Share it with someone",
        "Let {focus} reach other people.",
        """
        Share one thing you learned | Tell {support} about one insight from your practice. | 15 | medium
        Invite someone in | Spend one {practice} on {kw} together with someone. | 30 | high
        Thank someone who helped | Send a short note of thanks to someone who supported you. | 10 | low
        """,
    ),
    _stage(
        "Make it part of your week",
        "Keep {focus} going when life gets busy.",
        """
        Plan for a busy week | Decide the smallest version of your practice for hectic days. | 10 | low
        Do the small version | Practise the smallest version of {kw} once, on purpose. | 10 | low
        Protect one longer {practice} | Reserve one longer {practice} this week, and keep it. | 30 | high
        Set a reminder cue | Set up one cue that reminds you of {focus} at the right moment. | 10 | medium
        """,
    ),
    _stage(
        "Look back and choose what's next",
        "See how far {focus} has come and choose the next step.",
        """
        Read your notes from the start | Reread {evidence} from the beginning: what changed? | 20 | medium
        Write a letter to your future self | What do you want to remember about {focus}? | 20 | low
        Pick the next chapter | Choose one direction to explore next with {kw}. | 15 | medium
        Celebrate the journey | Mark the moment with something you enjoy. | 30 | high
        """,
    ),
)

CONTINUATION: Final = _templates(
    """
    Practise {kw} | A {practice} on {kw}: pick up where the last one ended. | 20 | medium
    Quick review of {evidence} | Look back at recent entries and note one thing to adjust. | 10 | low
    Stretch yourself on {kw2} | A harder {practice} on {kw2} than last time. | 25 | high
    Plan the next steps | Decide the next three small steps for {focus}. | 10 | low
    Share progress with {support} | Tell them one thing that moved forward. | 15 | medium
    Deep {practice} | Give {focus} your full attention for one longer {practice}. | 30 | high
    Reflect on the last week | What helped {focus} this week, and what got in the way? | 15 | low
    Look after {care} | Take care of {care} so the next {practice} is easier. | 10 | low
    """
)


def _fields(brief: GoalBrief) -> dict[str, str]:
    vocab = VOCABULARY.get(brief.value_category, VOCABULARY["growth"])
    focus = focus_of(brief.title)
    words = keywords(brief.title, brief.description)
    kw = words[0] if words else focus
    return {
        "focus": focus,
        "kw": kw,
        "kw2": words[1] if len(words) > 1 else kw,
        "measure": measure_of(brief.title, brief.description) or "your target",
        "practice": vocab.practice,
        "evidence": vocab.evidence,
        "support": vocab.support,
        "care": vocab.care,
    }


def _render(template: Template, fields: dict[str, str]) -> DraftMission:
    title = _clip(template.title.format(**fields), 200)
    description = template.description.format(**fields)
    return DraftMission(
        title[0].upper() + title[1:], description, template.minutes, EnergyLevel(template.energy)
    )


def milestone_count(brief: GoalBrief, today: date | None = None) -> int:
    count = MIN_MILESTONES
    count += brief.goal_type == "concrete"
    count += brief.importance >= 4
    count += len(brief.description.strip()) >= 80
    if brief.target_date is not None and today is not None:
        count += (brief.target_date - today).days >= 90
    return min(MAX_MILESTONES, count)


def _pick_stages(arc: tuple[Stage, ...], count: int) -> list[Stage]:
    """The first and the last stage always; inner stages spread evenly along the arc."""
    if count >= len(arc):
        return list(arc)
    inner = arc[1:-1]
    wanted = count - 2
    indices = {round(i * (len(inner) - 1) / max(1, wanted - 1)) for i in range(wanted)}
    for index in range(len(inner)):  # rounding collisions: fill in order
        if len(indices) == wanted:
            break
        indices.add(index)
    return [arc[0], *(inner[i] for i in sorted(indices)), arc[-1]]


def _balance_energy(stages: list[Stage], dropped: list[set[int]], minimum: int = 2) -> None:
    """Swap left-out steps in so that every energy level appears at least ``minimum`` times."""

    def counts() -> dict[str, int]:
        found = dict.fromkeys(("low", "medium", "high"), 0)
        for stage, left_out in zip(stages, dropped, strict=True):
            for index, template in enumerate(stage.missions):
                if index not in left_out:
                    found[template.energy] += 1
        return found

    for level in ("high", "medium", "low"):
        while (current := counts())[level] < minimum:
            richest = max(current, key=lambda name: current[name])
            swap = next(
                (
                    (left_out, out_index, in_index)
                    for stage, left_out in zip(stages, dropped, strict=True)
                    for out_index in sorted(left_out)
                    if stage.missions[out_index].energy == level
                    for in_index in range(1, len(stage.missions))
                    if in_index not in left_out and stage.missions[in_index].energy == richest
                ),
                None,
            )
            if swap is None:
                break
            left_out, out_index, in_index = swap
            left_out.discard(out_index)
            left_out.add(in_index)


def plan(brief: GoalBrief, today: date | None = None) -> list[DraftMilestone]:
    """A deterministic plan for ``brief``: 3–7 milestones, 10–20 missions of 10–30 minutes."""
    fields = _fields(brief)
    seed = _seed(brief)
    arc = CONCRETE_ARC if brief.goal_type == "concrete" else ABSTRACT_ARC
    stages = _pick_stages(arc, milestone_count(brief, today))
    extra = (brief.goal_type == "concrete") + (brief.importance >= 4)
    total = max(MIN_MISSIONS, min(MAX_MISSIONS, len(stages) * 3 + extra))
    per_stage = [total // len(stages)] * len(stages)
    for index in range(total - sum(per_stage)):
        per_stage[(index + 1) % len(stages)] += 1  # the first stage stays short: a gentle start
    dropped: list[set[int]] = []
    for position, (stage, count) in enumerate(zip(stages, per_stage, strict=True)):
        # A stage with more templates than it needs leaves some out, chosen by the goal's seed
        # (never the first, the stage's anchor step); the rest keep their logical order.
        droppable = list(range(1, len(stage.missions)))
        left_out: set[int] = set()
        for step in range(max(0, len(stage.missions) - count)):
            left_out.add(droppable.pop((seed >> (position * 5 + step * 2)) % len(droppable)))
        dropped.append(left_out)
    _balance_energy(stages, dropped)
    milestones: list[DraftMilestone] = []
    for stage, left_out in zip(stages, dropped, strict=True):
        missions = tuple(
            _render(template, fields)
            for index, template in enumerate(stage.missions)
            if index not in left_out
        )
        description = _clip(stage.description.format(**fields), 1000)
        milestones.append(DraftMilestone(stage.title, description, missions))
    return milestones


def continuation(brief: GoalBrief, index: int) -> DraftMission:
    """The ``index``-th top-up mission of a goal (0-based): the same index gives the same mission."""
    mission = _render(CONTINUATION[index % len(CONTINUATION)], _fields(brief))
    round_number = index // len(CONTINUATION) + 1
    if round_number == 1:
        return mission
    return DraftMission(
        _clip(f"{mission.title} (round {round_number})", 200),
        mission.description,
        mission.estimated_minutes,
        mission.energy_level,
    )
