"""pgvector detection (start-up, health) and the HNSW path it selects.

The embedded server has pgvector 0.6.2 (no iterative scans); with ``TEST_DATABASE_URL`` pointing at
a pgvector >= 0.8 server (the production image) the same tests check the iterative path.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.memory import pgvector, service
from app.memory.embeddings import LocalEmbedder, MemoryTuning
from app.users import repository as users


def test_versions_with_and_without_iterative_scans() -> None:
    assert not pgvector.PgVector("0.6.2").iterative_scan
    assert not pgvector.PgVector("0.7.4").iterative_scan
    assert pgvector.PgVector("0.8.0").iterative_scan
    assert pgvector.PgVector("0.10.1").iterative_scan
    assert not pgvector.PgVector(None).iterative_scan
    assert pgvector.PgVector("0.8.1").describe() == {"version": "0.8.1", "iterative_scan": True}


async def _server_version(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        found = await connection.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
        return str(found.scalar_one())


async def test_health_shows_the_servers_pgvector(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    version = await _server_version(engine)
    body = (await client.get("/api/v1/health")).json()
    assert body["pgvector"] == {
        "version": version,
        "iterative_scan": pgvector.PgVector(version).iterative_scan,
    }


async def test_startup_detection_never_blocks_on_a_dead_database(
    app_factory: Any, settings_factory: Any
) -> None:
    app = await app_factory(settings_factory(database_url="postgresql://nobody@127.0.0.1:1/none"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/api/v1/health/live")).status_code == 200
        health = await http.get("/api/v1/health")
    assert health.status_code == 503 and "pgvector" not in health.json()


async def test_the_hnsw_path_follows_the_detected_version(
    db: AsyncSession, local_embedder: LocalEmbedder, engine: AsyncEngine
) -> None:
    user = await users.provision(db, "user_pgvector")
    noise = await users.provision(db, "user_pgvector_noise")
    for owner, count in ((noise.id, 15), (user.id, 6)):
        for i in range(count):
            await service.remember(
                db,
                local_embedder,
                user_id=owner,
                tier="personal",
                content=f"I enjoy sailing on the lake, day {i} of {owner.hex[:4]}",
                source="t",
            )
    await db.commit()
    iterative = pgvector.PgVector(await _server_version(engine)).iterative_scan
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    hnsw = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=0, hnsw_ef_search=10))
    exact = LocalEmbedder(tuning=MemoryTuning(0.15, 0.9, exact_search_max_rows=10_000))
    sync_engine = db.bind.sync_engine  # type: ignore[union-attr]
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        via_index = await service.recall(db, hnsw, user_id=user.id, query="sailing on the lake", limit=5)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    via_scan = await service.recall(db, exact, user_id=user.id, query="sailing on the lake", limit=5)
    assert {h.memory.id for h in via_index} == {h.memory.id for h in via_scan}
    assert all(h.memory.user_id == user.id for h in via_index) and len(via_index) == 5
    sql = " ".join(statements)
    assert ("hnsw.iterative_scan" in sql) is iterative
