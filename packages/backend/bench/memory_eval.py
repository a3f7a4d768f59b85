"""Recall quality on the labelled set in bench/data/memory_eval.json: ``python -m bench memory_eval``.

Stores every memory through ``service.remember`` (local model, real de-duplication) in a fresh
database on an embedded PostgreSQL under /tmp (BENCH_PG_DIR_EVAL), then runs every query through
``service.recall(limit=5)`` (each in a rolled-back transaction, so access stats do not drift) and
prints recall@5, MRR and the precision of the similarity floor, with ablations, plus the
calibration tables of the similarity floor and the near-duplicate threshold.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.database_url import to_async_url
from app.db.migrate import run_migrations
from app.devtools.embedded import start_postgres
from app.memory import dedup, scoring, service
from app.memory.embeddings import LOCAL_TUNING, LocalEmbedder
from app.users import repository as users
from bench import report

DATA = Path(__file__).parent / "data" / "memory_eval.json"
PG_DIR = Path(os.environ.get("BENCH_PG_DIR_EVAL", "/tmp/delight-eval-pg"))  # noqa: S108 - bench scratch
K = 5


@contextmanager
def variant(embedder: LocalEmbedder, fusion: str = "rrf", **changes: Any) -> Iterator[None]:
    """Temporarily change the fusion and ``scoring`` constants (ablations)."""
    saved = {name: getattr(scoring, name) for name in changes}
    saved_tuning = embedder.tuning
    embedder.tuning = replace(saved_tuning, fusion=fusion)  # type: ignore[arg-type]
    for name, value in changes.items():
        setattr(scoring, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(scoring, name, value)
        embedder.tuning = saved_tuning


async def fresh_database() -> str:
    server = start_postgres(PG_DIR, database="postgres")
    admin = to_async_url(server.url)
    engine = create_async_engine(admin.url, connect_args=admin.connect_args, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text('DROP DATABASE IF EXISTS "delight_eval" WITH (FORCE)'))
        await connection.execute(text('CREATE DATABASE "delight_eval"'))
    await engine.dispose()
    url = server.url.replace("/postgres?", "/delight_eval?")
    await asyncio.to_thread(run_migrations, url)
    return url


async def load(
    sessions: async_sessionmaker[AsyncSession], embedder: LocalEmbedder, data: dict[str, Any]
) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID], int]:
    """Store every memory; returns user ids, eval id → memory id, and how many were merged."""
    user_ids: dict[str, uuid.UUID] = {}
    memory_ids: dict[str, uuid.UUID] = {}
    merged = 0
    async with sessions() as session:
        for name, memories in data["users"].items():
            user = await users.provision(session, f"eval_{name}")
            user_ids[name] = user.id
            for item in memories:
                result = await service.remember(
                    session,
                    embedder,
                    user_id=user.id,
                    tier=item["tier"],
                    content=item["content"],
                    source="eval",
                )
                merged += not result.created
                memory_ids[item["id"]] = result.memory.id
        await session.commit()
    return user_ids, memory_ids, merged


async def run_queries(
    sessions: async_sessionmaker[AsyncSession],
    embedder: LocalEmbedder,
    data: dict[str, Any],
    user_ids: dict[str, uuid.UUID],
    memory_ids: dict[str, uuid.UUID],
) -> dict[str, float]:
    """recall@5, MRR, precision of the returned results and negatives answered empty on ``data``'s
    ``queries`` and ``negatives`` (one part of the set)."""
    reverse = {v: k for k, v in memory_ids.items()}
    recall_sum = mrr_sum = 0.0
    returned = relevant_returned = 0
    for item in data["queries"]:
        async with sessions() as session:
            hits = await service.recall(
                session, embedder, user_id=user_ids[item["user"]], query=item["query"], limit=K
            )
            ranked = [reverse[h.memory.id] for h in hits]
            await session.rollback()
        relevant = set(item["relevant"])
        found = relevant & set(ranked)
        recall_sum += len(found) / min(len(relevant), K)
        mrr_sum += next((1 / (i + 1) for i, mid in enumerate(ranked) if mid in relevant), 0.0)
        returned += len(ranked)
        relevant_returned += len(found)
    empty_negatives = 0
    for item in data["negatives"]:
        async with sessions() as session:
            hits = await service.recall(
                session, embedder, user_id=user_ids[item["user"]], query=item["query"], limit=K
            )
            await session.rollback()
        empty_negatives += not hits
    count = len(data["queries"])
    return {
        "recall@5": recall_sum / count,
        "mrr": mrr_sum / count,
        "precision": relevant_returned / returned if returned else 0.0,
        "returned": returned / count,
        "negatives_empty": empty_negatives / len(data["negatives"]),
    }


def calibrate_floor(embedder: LocalEmbedder, data: dict[str, Any]) -> list[tuple[float, float, float, float]]:
    """For candidate floors: share of relevant pairs kept, precision of the pairs above it, and the
    share of negative queries with nothing above it (cosine only)."""
    contents = {m["id"]: m["content"] for memories in data["users"].values() for m in memories}
    owners = {m["id"]: name for name, memories in data["users"].items() for m in memories}
    ids = list(contents)
    vectors = embedder.embed_sync([contents[i] for i in ids])
    index = {mid: n for n, mid in enumerate(ids)}
    pairs: list[tuple[float, bool]] = []
    queries = data["queries"]
    qv = embedder.embed_sync([q["query"] for q in queries])
    for q, v in zip(queries, qv, strict=True):
        for mid in ids:
            if owners[mid] == q["user"]:
                pairs.append((float(vectors[index[mid]] @ v), mid in q["relevant"]))
    negatives = data["negatives"]
    nv = embedder.embed_sync([q["query"] for q in negatives])
    negative_best = [
        max(float(vectors[index[mid]] @ v) for mid in ids if owners[mid] == q["user"])
        for q, v in zip(negatives, nv, strict=True)
    ]
    rows = []
    total_relevant = sum(1 for _, rel in pairs if rel)
    for floor in np.arange(0.15, 0.50, 0.05):
        above = [(s, rel) for s, rel in pairs if s >= floor]
        kept = sum(1 for _, rel in above if rel) / total_relevant
        precision = sum(1 for _, rel in above if rel) / len(above) if above else 1.0
        rejected = sum(1 for best in negative_best if best < floor) / len(negative_best)
        rows.append((round(float(floor), 2), kept, precision, rejected))
    return rows


def calibrate_duplicates(embedder: LocalEmbedder, data: dict[str, Any]) -> tuple[list[float], list[float]]:
    def sims(pairs: list[list[str]]) -> list[float]:
        a = embedder.embed_sync([p[0] for p in pairs])
        b = embedder.embed_sync([p[1] for p in pairs])
        return [float(x @ y) for x, y in zip(a, b, strict=True)]

    return sims(data["duplicate_pairs"]), sims(data["distinct_pairs"])


async def run() -> None:
    data = json.loads(DATA.read_text())
    embedder = LocalEmbedder()
    embedder.load()
    url = await fresh_database()
    db = to_async_url(url)
    engine = create_async_engine(db.url, connect_args=db.connect_args)
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    try:
        user_ids, memory_ids, merged = await load(sessions, embedder, data)
        parts = {"tuning": data, "held-out": data["held_out"]}
        floor_results = {}
        for floor in (0.0, 0.10, 0.15, 0.20, 0.25, 0.30):
            embedder.tuning = replace(LOCAL_TUNING, similarity_floor=floor)
            floor_results[floor] = await run_queries(sessions, embedder, data, user_ids, memory_ids)
            print("floor", floor, floor_results[floor])
        embedder.tuning = LOCAL_TUNING
        variants = {
            "hybrid (default: reciprocal rank fusion of dense and BM25)": {},
            "dense ranking only": {"RRF_WEIGHTS": {"dense": 1.0, "lexical": 0.0}, "LEXICAL_FLOOR": 2.0},
            "BM25 ranking only": {"RRF_WEIGHTS": {"dense": 0.0, "lexical": 1.0}},
            "score blend instead of RRF": {"fusion": "blend"},
            "no lexical rescue below the floor": {"LEXICAL_FLOOR": 2.0},
        }
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, changes in variants.items():
            results[name] = {}
            for part, part_data in parts.items():
                with variant(embedder, **changes):
                    results[name][part] = await run_queries(
                        sessions, embedder, part_data, user_ids, memory_ids
                    )
            print(name, results[name])
    finally:
        await engine.dispose()
    texts = [m["content"] for memories in data["users"].values() for m in memories] * 4
    started = time.perf_counter()
    embedder.embed_sync(texts)
    throughput = len(texts) / (time.perf_counter() - started)
    single = []
    for query in data["queries"]:
        started = time.perf_counter()
        embedder.embed_sync([query["query"]])
        single.append((time.perf_counter() - started) * 1000)
    single.sort()
    floors = calibrate_floor(embedder, data)
    duplicates, distinct = calibrate_duplicates(embedder, data)
    threshold = LOCAL_TUNING.duplicate_threshold
    dup_merged = sum(
        dedup.is_near_duplicate(a, b, sim, threshold)
        for (a, b), sim in zip(data["duplicate_pairs"], duplicates, strict=True)
    )
    distinct_merged = sum(
        dedup.is_near_duplicate(a, b, sim, threshold)
        for (a, b), sim in zip(data["distinct_pairs"], distinct, strict=True)
    )
    cosine_only = sum(sim >= threshold for sim in distinct)
    memories = sum(len(m) for m in data["users"].values())

    def rows(part: str) -> str:
        return "\n".join(
            f"| {name} | {r[part]['recall@5']:.3f} | {r[part]['mrr']:.3f} | {r[part]['precision']:.3f} "
            f"| {r[part]['returned']:.2f} | {r[part]['negatives_empty']:.2f} |"
            for name, r in results.items()
        )

    floor_quality = "\n".join(
        f"| {floor:.2f} | {r['recall@5']:.3f} | {r['mrr']:.3f} | {r['precision']:.3f} | {r['returned']:.2f} "
        f"| {r['negatives_empty']:.2f} |"
        for floor, r in floor_results.items()
    )
    floor_rows = "\n".join(
        f"| {floor:.2f} | {kept:.3f} | {precision:.3f} | {rejected:.2f} |"
        for floor, kept, precision, rejected in floors
    )
    body = f"""
Set: `bench/data/memory_eval.json`, {len(data["users"])} synthetic users, {memories} memories
(personal/project/task). Tuning part: {len(data["queries"])} paraphrased queries with labelled
answers and {len(data["negatives"])} without an answer (the similarity floor and the weights were
calibrated on them: optimistic). Held-out part: {len(data["held_out"]["queries"])} queries and
{len(data["held_out"]["negatives"])} without an answer over the same memories, written later and
never used for tuning. Model: local all-MiniLM-L6-v2 (int8 ONNX), similarity floor
{LOCAL_TUNING.similarity_floor}, lexical floor {scoring.LEXICAL_FLOOR}.
Memories merged by de-duplication while loading: {merged} (expected 0).
Local embedding throughput: {throughput:.0f} sentences/s (batches of {embedder.batch_size}, the
set's memories); one query: p50 {single[len(single) // 2]:.1f} ms (1-minute load average
{os.getloadavg()[0]:.1f} on 2 shared cores).

**Tuning part** (calibrated on it):

| scoring | recall@5 | MRR | precision of returned (floor) | results per query | negatives answered empty |
| --- | --- | --- | --- | --- | --- |
{rows("tuning")}

**Held-out part** (never tuned on):

| scoring | recall@5 | MRR | precision of returned (floor) | results per query | negatives answered empty |
| --- | --- | --- | --- | --- | --- |
{rows("held-out")}

Similarity-floor calibration on the tuning part (cosine of query and memory, every pair of a user's
queries and memories):

| floor | relevant pairs kept | precision above floor | negatives with nothing above |
| --- | --- | --- | --- |
{floor_rows}

recall@5 / MRR / precision of the returned results against the similarity floor (hybrid, tuning part):

| floor | recall@5 | MRR | precision of returned | results per query | negatives answered empty |
| --- | --- | --- | --- | --- | --- |
{floor_quality}

Near-duplicate calibration: duplicate pairs cosine min {min(duplicates):.3f} (mean
{float(np.mean(duplicates)):.3f}); different-fact pairs max {max(distinct):.3f} (mean
{float(np.mean(distinct)):.3f}): cosine alone cannot separate them ({cosine_only} of
{len(distinct)} different-fact pairs reach {threshold}). With the wording guard
(`app/memory/dedup.py`) at threshold {threshold}: {dup_merged}/{len(duplicates)} duplicate pairs
merged, {distinct_merged}/{len(distinct)} different-fact pairs merged.
"""
    if os.environ.get("BENCH_DRY") == "1":
        print(body)
    else:
        report.append("Memory recall quality (`memory_eval`)", body)


def main() -> None:
    asyncio.run(run())
