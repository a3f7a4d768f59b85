"""Hybrid retrieval: query analysis, sentence embeddings, the BM25 candidate generator and fusion."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.memory import maintenance, query, sentences, service
from app.memory.embeddings import LocalEmbedder, MemoryTuning
from app.memory.query import TermKind
from app.models import Memory
from app.users import repository as users


async def new_user(db: AsyncSession, clerk_id: str = "user_retrieval") -> uuid.UUID:
    user = await users.provision(db, clerk_id)
    await db.commit()
    return user.id


async def store(
    db: AsyncSession, embedder: LocalEmbedder, user_id: uuid.UUID, *contents: str
) -> list[uuid.UUID]:
    ids = []
    for content in contents:
        result = await service.remember(
            db, embedder, user_id=user_id, tier="task", content=content, source="test"
        )
        ids.append(result.memory.id)
    return ids


def test_query_analysis_weighs_names_dates_phrases_and_drops_question_words() -> None:
    plan = query.analyse('Do you remember what Ingrid said about "the blue teapot" on 21 June?')
    terms = {(t.text, t.kind): t.weight for t in plan.terms}
    assert terms[("the blue teapot", TermKind.phrase)] == query.PHRASE_WEIGHT
    assert terms[("Ingrid", TermKind.word)] == query.NAME_WEIGHT
    assert terms[("21 | 21st", TermKind.raw)] == query.DATE_WEIGHT
    assert terms[("june", TermKind.word)] == query.DATE_WEIGHT
    assert ("blue", TermKind.word) in terms and ("teapot", TermKind.word) in terms
    words = {t.text.lower() for t in plan.terms if t.kind is TermKind.word}
    assert not words & {"do", "you", "remember", "what", "said", "about", "on"}
    # Every spelling of a date gives the same terms.
    for spelling in ("June 21st", "the 21st of June", "2026-06-21", "21/06", "jun 21"):
        dates = {(t.text, t.kind) for t in query.analyse(f"What is on {spelling}?").terms}
        assert dates == {("21 | 21st", TermKind.raw), ("june", TermKind.word)}, spelling
    # The word naming the kind of answer is weighed down; a sentence's first word is no name.
    plan = query.analyse("Which instrument is Beatriz teaching? Teaching is hard.")
    weights = {t.text: t.weight for t in plan.terms}
    assert weights["instrument"] == query.ANSWER_TYPE_WEIGHT
    assert weights["Beatriz"] == query.NAME_WEIGHT and weights["teaching"] == 1.0
    assert query.analyse("what is it?").terms == ()


def test_sentence_split() -> None:
    assert sentences.split("Just one sentence here.") == []
    assert sentences.split("Long day. My sister moved to Oslo! Pasta for dinner?") == [
        "Long day. My sister moved to Oslo!",  # "Long day." is too short to stand alone
        "Pasta for dinner?",
    ]
    assert sentences.split("Dr. Levin, my therapist, helps. I see her on Mondays.") == [
        "Dr. Levin, my therapist, helps.",
        "I see her on Mondays.",
    ]
    many = " ".join(f"Sentence number {i} is here." for i in range(12))
    assert len(sentences.split(many)) == sentences.MAX_SENTENCES
    assert sentences.to_literal([]) == "{}"
    assert sentences.to_literal([[0.5, -1.0]]) == '{"[0.5,-1]"}'


async def test_a_fact_inside_a_long_message_is_found_by_its_sentence(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    user_id = await new_user(db)
    long_id, *_ = await store(
        db,
        local_embedder,
        user_id,
        "Work was busy and the printer broke twice. My sister Ingrid moved to Oslo for a job at the "
        "university. I made pasta and watched a documentary about whales.",
        "Ingrid called me today, we laughed a lot.",
        "I talked to Ingrid about films for an hour.",
        "The printer at work is broken again.",
        "I watched a documentary about octopuses.",
    )
    stored = await db.execute(
        select(func.cardinality(Memory.sentence_embeddings)).where(Memory.id == long_id)
    )
    assert stored.scalar_one() == 3
    hits = await service.recall(db, local_embedder, user_id=user_id, query="Where did my sister move to?")
    assert hits[0].memory.id == long_id
    best = hits[0].breakdown
    assert best["dense_rank"] == 1 and best["lexical_rank"] is not None
    # Its similarity is its best sentence's, higher than the whole message's.
    vector = (await local_embedder.embed(["Where did my sister move to?"]))[0]
    whole = (
        await db.execute(select(1 - Memory.embedding.cosine_distance(vector)).where(Memory.id == long_id))
    ).scalar_one()
    assert best["similarity"] > whole + 0.05


async def test_names_dates_and_quoted_phrases_rank_first_lexically(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    user_id = await new_user(db)
    recital, party, novel, _, _ = await store(
        db,
        local_embedder,
        user_id,
        "The recital is on 21 June at the conservatory hall.",
        "The party is on 21 May at Joana's place.",
        "We watched 'The Remains of the Day' with Miguel.",
        "The day remains busy, lots of meetings.",
        "Lunch with Ricardo on 12 June.",
    )
    hits = await service.recall(db, local_embedder, user_id=user_id, query="What is happening on June 21st?")
    by_id = {h.memory.id: h for h in hits}
    # Both the day and the month: first lexically (fusion may still put a closer embedding first).
    assert by_id[recital].breakdown["lexical_rank"] == 1 and by_id[recital].breakdown["lexical"] == 1.0
    assert by_id[recital].breakdown["bm25"] > by_id[party].breakdown["bm25"] > 0
    assert recital in [h.memory.id for h in hits[:2]]
    hits = await service.recall(db, local_embedder, user_id=user_id, query='"the remains of the day"')
    by_id = {h.memory.id: h for h in hits}
    assert by_id[novel].breakdown["lexical_rank"] == 1
    hits = await service.recall(db, local_embedder, user_id=user_id, query="Joana")
    assert hits[0].memory.id == party
    # An unknown name matches nothing lexically and nothing semantically: no result.
    assert await service.recall(db, local_embedder, user_id=user_id, query="Zyxwvut Qwertz") == []


async def test_reembed_fills_missing_sentence_embeddings_and_search_works_meanwhile(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    user_id = await new_user(db)
    ids = await store(
        db,
        local_embedder,
        user_id,
        "Busy week at the studio. My cat Pimenta knocked coffee over the floor plans.",
        "Ricardo wants the competition entry by Friday.",
    )
    await db.commit()
    # As after migration 0006: rows stored before it have no sentence embeddings yet.
    await db.execute(update(Memory).values(sentence_embeddings=None))
    await db.commit()
    sessions = async_sessionmaker(db.bind, expire_on_commit=False)
    assert await maintenance.count_to_reembed(sessions, local_embedder.model_name, False) == 2
    # Search still answers, from the whole-text embeddings.
    hits = await service.recall(db, local_embedder, user_id=user_id, query="What did the cat do?")
    assert hits[0].memory.id == ids[0]
    await db.rollback()
    done = await maintenance.reembed(sessions, local_embedder, batch_size=1)
    assert done == 2
    sizes = dict((await db.execute(select(Memory.id, func.cardinality(Memory.sentence_embeddings)))).all())
    assert sizes == {ids[0]: 2, ids[1]: 0}
    assert await maintenance.count_to_reembed(sessions, local_embedder.model_name, False) == 0


@pytest.mark.parametrize("fusion", ["rrf", "blend"])
async def test_both_fusions_rank_the_answer_first(
    db: AsyncSession, local_embedder: LocalEmbedder, fusion: str
) -> None:
    from dataclasses import replace

    embedder = LocalEmbedder()
    embedder.tuning = replace(local_embedder.tuning, fusion=fusion)  # type: ignore[arg-type]
    user_id = await new_user(db)
    answer, *_ = await store(
        db,
        embedder,
        user_id,
        "Beatriz teaches me the cello on Tuesday evenings.",
        "Beatriz made me play scales for an hour.",
        "I bought new strings for the guitar.",
    )
    hits = await service.recall(db, embedder, user_id=user_id, query="Who teaches me music?")
    assert hits[0].memory.id == answer
    assert 0 < hits[0].breakdown["relevance"] <= 1


async def test_a_large_users_near_duplicate_is_found_through_the_index(db: AsyncSession) -> None:
    large = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=0))
    user_id = await new_user(db)
    first = await service.remember(
        db,
        large,
        user_id=user_id,
        tier="personal",
        content="My dog Pixel needs a walk every evening.",
        source="t",
    )
    other = await service.remember(
        db, large, user_id=user_id, tier="personal", content="I am allergic to penicillin.", source="t"
    )
    again = await service.remember(
        db,
        large,
        user_id=user_id,
        tier="personal",
        content="My dog Pixel needs a walk each evening!",
        source="t",
    )
    assert first.created and other.created
    assert not again.created and again.memory.id == first.memory.id
