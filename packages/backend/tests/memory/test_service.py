"""The service interface other domains call: remember, recall, the companion strategy, goals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import ValidationFailed
from app.core.jobs import discard_jobs
from app.memory import dedup, scoring, service
from app.memory.embeddings import LocalEmbedder, MemoryTuning, OpenAIEmbedder, create_embedder
from app.models import Memory, MemoryTier
from app.users import repository as users
from tests.memory.openai_server import OpenAIEmbeddingsServer


@pytest.fixture
async def down_embedder(
    openai_server: OpenAIEmbeddingsServer, openai_settings: Settings
) -> AsyncIterator[OpenAIEmbedder]:
    """The real OpenAI-protocol embedder client, configured as in production, whose provider is
    down: the local server at the network boundary answers 500."""
    openai_server.failing = True
    embedder = create_embedder(openai_settings)
    assert isinstance(embedder, OpenAIEmbedder)
    yield embedder
    await embedder.aclose()


async def new_user(db: AsyncSession, clerk_id: str = "user_svc") -> uuid.UUID:
    user = await users.provision(db, clerk_id)
    await db.commit()
    return user.id


async def test_remember_and_recall_roundtrip(db: AsyncSession, local_embedder: LocalEmbedder) -> None:
    user_id = await new_user(db)
    stored = await service.remember(
        db, local_embedder, user_id=user_id, tier="personal", content="I am vegetarian.", source="chat"
    )
    assert stored.created and stored.memory.embedding is not None
    await service.remember(
        db, local_embedder, user_id=user_id, tier="task", content="Booked a dentist visit.", source="chat"
    )
    hits = await service.recall(db, local_embedder, user_id=user_id, query="do I eat meat?")
    assert hits[0].memory.id == stored.memory.id
    assert 0 <= hits[0].score <= 1
    assert hits[0].breakdown["score"] == pytest.approx(hits[0].score, abs=1e-6)
    assert hits[0].memory.access_count == 1
    only_task = await service.recall(db, local_embedder, user_id=user_id, query="dentist", tiers=["task"])
    assert [h.memory.tier for h in only_task] == [MemoryTier.task]


async def test_service_validation(db: AsyncSession, local_embedder: LocalEmbedder) -> None:
    user_id = await new_user(db)
    with pytest.raises(ValidationFailed):
        await service.remember(db, local_embedder, user_id=user_id, tier="cosmic", content="x", source="chat")
    with pytest.raises(ValidationFailed):
        await service.remember(db, local_embedder, user_id=user_id, tier="task", content=" ", source="chat")
    with pytest.raises(ValidationFailed):
        await service.remember(
            db, local_embedder, user_id=user_id, tier="task", content="x" * 4001, source="chat"
        )
    with pytest.raises(ValidationFailed):
        await service.recall(db, local_embedder, user_id=user_id, query="x", limit=0)
    with pytest.raises(ValidationFailed):
        await service.recall(db, local_embedder, user_id=user_id, query="x", tiers=["nope"])


async def test_provider_down_stores_without_embedding_and_recalls_lexically(
    db: AsyncSession, down_embedder: OpenAIEmbedder, openai_server: OpenAIEmbeddingsServer
) -> None:
    user_id = await new_user(db)
    down = down_embedder
    stored = await service.remember(
        db, down, user_id=user_id, tier="personal", content="My dog is called Biscuit.", source="chat"
    )
    assert stored.created
    assert stored.memory.embedding is None and stored.memory.embedding_model is None
    assert [job.function for job in db.info["delight.pending_jobs"]] == ["embed_pending_memories"]
    discard_jobs(db)
    hits = await service.recall(db, down, user_id=user_id, query="What is Biscuit doing?")
    assert [h.memory.id for h in hits] == [stored.memory.id]
    assert hits[0].breakdown["similarity"] is None and hits[0].breakdown["lexical"] == 1.0
    assert len(openai_server.embedding_requests) == 2  # both calls reached the provider and failed
    assert hits[0].breakdown["dense_rank"] is None and hits[0].breakdown["lexical_rank"] == 1


async def test_companion_strategy(db: AsyncSession, local_embedder: LocalEmbedder) -> None:
    user_id = await new_user(db)
    goal = uuid.uuid4()

    async def put(tier: str, content: str, **extra: uuid.UUID) -> Memory:
        result = await service.remember(
            db, local_embedder, user_id=user_id, tier=tier, content=content, source="test", **extra
        )
        return result.memory

    personal = [
        await put("personal", f"Personal fact {i}: I love {thing}.")
        for i, thing in enumerate(["hiking", "jazz", "painting", "chess", "baking", "swimming", "poetry"])
    ]
    project = await put("project", "Goal: finish the first draft of my novel by June.", goal_id=goal)
    tasks = [
        await put("task", f"Recent action {i}: replied to {who}.") for i, who in enumerate(["Ann", "Raj"])
    ]

    chat = await service.recall_for_companion(
        db, local_embedder, user_id=user_id, message="I feel tired today"
    )
    tiers = [h.memory.tier for h in chat]
    assert MemoryTier.project not in tiers
    assert tiers.count(MemoryTier.personal) <= 5
    # Task context: the two recent actions fill the slots even without a semantic match.
    assert {h.memory.id for h in chat if h.memory.tier is MemoryTier.task} == {t.id for t in tasks}

    about_goals = await service.recall_for_companion(
        db, local_embedder, user_id=user_id, message="How is my plan for the novel going?"
    )
    assert project.id in [h.memory.id for h in about_goals]
    order = [h.memory.tier for h in about_goals]
    assert order == sorted(order, key=[MemoryTier.personal, MemoryTier.project, MemoryTier.task].index)
    assert len(personal) == 7


async def test_archiving_a_goal_hides_its_project_memories(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    user_id = await new_user(db)
    other_user = await new_user(db, "user_other")
    goal = uuid.uuid4()
    kept = await service.remember(
        db,
        local_embedder,
        user_id=user_id,
        tier="project",
        content="Marathon plan: 4 runs a week.",
        source="goals",
        goal_id=goal,
    )
    task = await service.remember(
        db,
        local_embedder,
        user_id=user_id,
        tier="task",
        content="Marathon run done today.",
        source="goals",
        goal_id=goal,
    )
    assert await service.archive_goal_memories(db, user_id=other_user, goal_id=goal) == 0
    assert await service.archive_goal_memories(db, user_id=user_id, goal_id=goal) == 1
    assert await service.archive_goal_memories(db, user_id=user_id, goal_id=goal) == 0  # idempotent
    hits = await service.recall(db, local_embedder, user_id=user_id, query="marathon training plan")
    assert kept.memory.id not in [h.memory.id for h in hits]
    assert task.memory.id in [h.memory.id for h in hits]
    assert await service.restore_goal_memories(db, user_id=user_id, goal_id=goal) == 1
    hits = await service.recall(db, local_embedder, user_id=user_id, query="marathon training plan")
    assert kept.memory.id in [h.memory.id for h in hits]


async def test_recency_and_frequency_enter_the_score(db: AsyncSession, local_embedder: LocalEmbedder) -> None:
    user_id = await new_user(db)
    old = await service.remember(
        db, local_embedder, user_id=user_id, tier="task", content="Walked the dog in the park.", source="t"
    )
    new = await service.remember(
        db, local_embedder, user_id=user_id, tier="task", content="Took the dog out to the park.", source="t"
    )
    long_ago = datetime.now(UTC) - timedelta(days=60)
    await db.execute(update(Memory).where(Memory.id == old.memory.id).values(accessed_at=long_ago))
    await db.execute(update(Memory).where(Memory.id == new.memory.id).values(access_count=20))
    db.expire_all()
    hits = await service.recall(db, local_embedder, user_id=user_id, query="dog walk in the park", limit=2)
    by_id = {h.memory.id: h for h in hits}
    fresh, stale = by_id[new.memory.id], by_id[old.memory.id]
    assert fresh.breakdown["frequency"] == 1.0 and fresh.breakdown["recency"] == pytest.approx(1.0, abs=1e-3)
    assert (
        stale.breakdown["frequency"] == 0.0 and stale.breakdown["recency"] < 0.01
    )  # 60 days, 7-day half-life
    for hit in hits:
        b = hit.breakdown
        expected = 0.94 * b["relevance"] + 0.04 * b["recency"] + 0.02 * b["frequency"]
        assert hit.score == pytest.approx(expected, abs=1e-5)
        # Both memories share "dog" and "park" with the query and are its two nearest: their
        # relevance comes from their ranks in both rankings (reciprocal rank fusion).
        assert b["dense_rank"] in (1, 2) and b["lexical_rank"] in (1, 2)
        expected_rrf = (1 / (60 + b["dense_rank"]) + b["coverage"] ** 3 / (60 + b["lexical_rank"])) / (2 / 61)
        assert b["relevance"] == pytest.approx(expected_rrf, abs=1e-5)


def test_score_is_bounded() -> None:
    now = datetime.now(UTC)
    assert sum(scoring.WEIGHTS.values()) == pytest.approx(1.0)
    assert scoring.combine(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert scoring.combine(0.0, 0.0, 0.0) == 0.0
    assert scoring.combine(-0.4, 3.0, float("nan")) <= 1.0
    assert scoring.recency(now + timedelta(days=1), now, MemoryTier.task) == 1.0  # clock skew
    assert scoring.recency(now - timedelta(days=7), now, MemoryTier.task) == pytest.approx(0.5)
    assert scoring.frequency(0) == 0.0 and scoring.frequency(10_000) == 1.0


def test_fusion_ranks_and_blend() -> None:
    first_in_both = scoring.Signals(0.9, 1, 5.0, 1, 1.0)
    first_dense_only = scoring.Signals(0.9, 1, 0.0, None, 0.0)
    first_lexical_only = scoring.Signals(None, None, 5.0, 1, 1.0)
    nowhere = scoring.Signals(0.1, None, 0.0, None, 0.0)
    assert scoring.rrf(first_in_both) == pytest.approx(1.0)
    assert scoring.rrf(first_dense_only) == pytest.approx(0.5)
    assert scoring.rrf(first_lexical_only) == pytest.approx(0.5)
    assert scoring.rrf(nowhere) == 0.0
    assert scoring.rrf(scoring.Signals(0.5, 10, 1.0, 10, 0.5)) < scoring.rrf(
        scoring.Signals(0.5, 2, 1.0, 9, 0.5)
    )
    # The blend: cosine rescaled above the floor, BM25 relative to the query's best match.
    assert scoring.blend(first_in_both, best_bm25=5.0, floor=0.15) == pytest.approx(
        0.5 * (0.9 - 0.15) / 0.85 + 0.5
    )
    assert scoring.blend(first_lexical_only, best_bm25=0.0, floor=0.15) == 0.0
    # The floor: semantically close, or most of the query's terms.
    assert scoring.passes_floor(0.2, 0.0, 0.15) and scoring.passes_floor(None, 0.6, 0.15)
    assert not scoring.passes_floor(0.1, 0.4, 0.15) and not scoring.passes_floor(None, 0.0, 0.15)


def test_goal_talk_detection() -> None:
    assert service.is_about_goals("What's my plan for this week?")
    assert service.is_about_goals("I want to make progress on the thesis")
    assert not service.is_about_goals("I feel a bit low today")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("I'm allergic to penicillin.", "I am allergic to penicillin", True),
        ("Yoga on Saturday mornings is my reset.", "Yoga on Saturday mornings is my reset button.", True),
        ("My dog Pixel needs a walk every evening.", "My dog Pixel needs a walk each evening!", True),
        ("I'm allergic to penicillin.", "I'm allergic to peanuts.", False),
        ("I love dark chocolate.", "I hate dark chocolate.", False),
        ("Moved 300 euros into savings.", "Moved 500 euros into savings.", False),
        ("I prefer messages to phone calls.", "I prefer phone calls to messages.", False),
    ],
)
def test_near_duplicates_must_say_the_same_thing(a: str, b: str, same: bool) -> None:
    assert dedup.says_the_same(a, b) is same
    assert dedup.is_near_duplicate(a, b, 0.99, 0.9) is same
    assert dedup.is_near_duplicate(a, b, 0.5, 0.9) is False


async def test_the_hnsw_path_gives_the_exact_answer(db: AsyncSession, local_embedder: LocalEmbedder) -> None:
    """Above the exact-search size the index is used; a short filtered answer falls back to exact."""
    user_id = await new_user(db)
    other = await new_user(db, "user_noise")
    for i in range(30):  # another user's rows crowd the index around the query
        await service.remember(
            db,
            local_embedder,
            user_id=other,
            tier="personal",
            content=f"I enjoy gardening, note {i}",
            source="t",
        )
    mine = await service.remember(
        db, local_embedder, user_id=user_id, tier="personal", content="Gardening relaxes me.", source="t"
    )
    await service.remember(
        db, local_embedder, user_id=user_id, tier="task", content="Watered the basil.", source="t"
    )
    await db.commit()
    hnsw = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=0, hnsw_ef_search=10))
    exact = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=10_000))
    for tiers in (None, ["personal"], ["task"]):
        via_index = await service.recall(
            db, hnsw, user_id=user_id, query="gardening hobby", tiers=tiers, limit=2
        )
        via_scan = await service.recall(
            db, exact, user_id=user_id, query="gardening hobby", tiers=tiers, limit=2
        )
        assert {h.memory.id for h in via_index} == {h.memory.id for h in via_scan}
        assert all(h.memory.user_id == user_id for h in via_index)
        if tiers != ["task"]:
            assert mine.memory.id in {h.memory.id for h in via_index}


async def test_a_companion_turn_takes_three_statements(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    """Small users: terms + count + exact candidates of every tier, then lexical candidates + recent
    task memories, then one access-stat UPDATE — whatever the number of tiers recalled."""
    user_id = await new_user(db)
    for tier, content in [
        ("personal", "I love hiking in the mountains."),
        ("project", "Goal: run a marathon in October."),
        ("task", "Booked the physio for Tuesday."),
        ("task", "Bought new running shoes."),
    ]:
        await service.remember(db, local_embedder, user_id=user_id, tier=tier, content=content, source="t")
    await db.commit()
    await service.recall(db, local_embedder, user_id=user_id, query="warm up")  # cache the common terms
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = db.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        chat = await service.recall_for_companion(
            db, local_embedder, user_id=user_id, message="How is my marathon training plan going?"
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 3, statements
    assert {h.memory.tier for h in chat} == {MemoryTier.personal, MemoryTier.project, MemoryTier.task}
    await db.commit()
    db.expire_all()
    stored = (await db.execute(select(Memory).where(Memory.user_id == user_id))).scalars().all()
    returned = {h.memory.id for h in chat}
    assert {m.id for m in stored if m.access_count == 2} == returned  # remembered (1) + this turn
    assert all(m.access_count == 1 for m in stored if m.id not in returned)


async def test_the_companion_hnsw_path_gives_the_exact_answer(
    db: AsyncSession, local_embedder: LocalEmbedder
) -> None:
    user_id = await new_user(db)
    other = await new_user(db, "user_noise")
    for i in range(20):
        await service.remember(
            db,
            local_embedder,
            user_id=other,
            tier="personal",
            content=f"I enjoy gardening, note {i}",
            source="t",
        )
    for tier, content in [
        ("personal", "Gardening relaxes me."),
        ("personal", "I am allergic to cats."),
        ("project", "Plan: grow tomatoes on the balcony this summer."),
        ("task", "Watered the basil."),
    ]:
        await service.remember(db, local_embedder, user_id=user_id, tier=tier, content=content, source="t")
    await db.commit()
    hnsw = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=0, hnsw_ef_search=10))
    exact = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=10_000))
    message = "What is my plan for the garden?"
    via_index = await service.recall_for_companion(db, hnsw, user_id=user_id, message=message)
    via_scan = await service.recall_for_companion(db, exact, user_id=user_id, message=message)
    assert {h.memory.id for h in via_index} == {h.memory.id for h in via_scan}
    assert all(h.memory.user_id == user_id for h in via_index)


async def test_a_message_of_stop_words_still_gets_recent_task_context(
    db: AsyncSession, local_embedder: LocalEmbedder, down_embedder: OpenAIEmbedder
) -> None:
    """No search terms: no lexical search, yet the recent task memories still come along."""
    user_id = await new_user(db)
    task = await service.remember(
        db, local_embedder, user_id=user_id, tier="task", content="Called the plumber.", source="t"
    )
    chat = await service.recall_for_companion(db, local_embedder, user_id=user_id, message="How are you?")
    assert task.memory.id in {h.memory.id for h in chat}
    assert await service.recall_for_companion(db, down_embedder, user_id=user_id, message="Is it?") != []
