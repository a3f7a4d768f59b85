"""Recall on long multi-session conversations: ``python -m bench memory_conversations``.

Data: ``bench/data/memory_conversations.json`` (5 users x 320 turns, 210 questions labelled with
the ids of the turns that answer them; user ``elin`` is held out and never used for tuning).

The shipped system is measured through the real API, as a client would use it: a uvicorn server of
the app on an embedded PostgreSQL under /tmp (BENCH_PG_DIR_CONVERSATIONS), every turn stored with
``POST /api/v1/memories`` (task tier, one conversation id per session), every question asked with
``GET /api/v1/memories/search?limit=10``. Two baselines run in this process over exactly the memories
the API stored (after its de-duplication), on the same questions:

- dense-only: exact cosine top-k with the same local embedding model;
- BM25-only: a plain Okapi BM25 (k1 1.2, b 0.75; lower-cased word tokens, English stop words
  removed, plural/verb suffixes folded), written here and independent of the product.

Reported per part (tuning / held-out): turn-level evidence recall@5 and recall@10 (share of a
question's evidence turns in the top k, averaged over questions) and hit@5 (at least one evidence
turn in the top 5), plus recall@10 by question type, and the write latency of the stores.

BENCH_DRY=1 prints the section instead of appending it to docs/benchmarks.md.
MEMORY_CONVERSATIONS_REUSE=1 keeps an already loaded database (only the questions run again).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import secrets
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import report
from bench.servers import session_headers, uvicorn_server

DATA = Path(__file__).parent / "data" / "memory_conversations.json"
PG_DIR = Path(os.environ.get("BENCH_PG_DIR_CONVERSATIONS", "/tmp/delight-conversations-pg"))  # noqa: S108
REUSE = os.environ.get("MEMORY_CONVERSATIONS_REUSE") == "1"
DATABASE = "delight_conversations"
AZP = "http://localhost:3000"
K = 10

# --- the plain BM25 baseline ------------------------------------------------------------------

BM25_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves i'm i've i'll it's don't didn't can't""".split()  # noqa: SIM905
)
_TOKEN = re.compile(r"[\w']+")


def bm25_tokens(text: str) -> list[str]:
    tokens = []
    for raw in _TOKEN.findall(text.casefold()):
        word = raw.strip("'")
        if word.endswith("'s"):
            word = word[:-2]
        if not word or word in BM25_STOP_WORDS:
            continue
        for suffix in ("ies", "es", "s", "ed", "ing"):
            if len(word) > len(suffix) + 2 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        tokens.append(word)
    return tokens


class BM25:
    """Okapi BM25 over one user's memories."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = [Counter(bm25_tokens(d)) for d in documents]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avgdl = statistics.fmean(self.lengths) if self.lengths else 1.0
        self.k1, self.b = k1, b
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def top(self, query: str, k: int) -> list[int]:
        terms = bm25_tokens(query)
        scores = []
        for index, (doc, length) in enumerate(zip(self.docs, self.lengths, strict=True)):
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = tf + self.k1 * (1 - self.b + self.b * length / self.avgdl)
                    score += self.idf[term] * tf * (self.k1 + 1) / norm
            if score > 0:
                scores.append((-score, index))
        scores.sort()
        return [index for _, index in scores[:k]]


# --- scoring ----------------------------------------------------------------------------------


@dataclass
class Scores:
    recall5: list[float] = field(default_factory=list)
    recall10: list[float] = field(default_factory=list)
    hit5: list[float] = field(default_factory=list)
    by_type: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, ranked_turns: Sequence[set[str]], evidence: set[str], kind: str) -> None:
        def found(k: int) -> set[str]:
            seen: set[str] = set()
            for turns in ranked_turns[:k]:
                seen |= turns
            return seen & evidence

        self.recall5.append(len(found(5)) / len(evidence))
        self.recall10.append(len(found(10)) / len(evidence))
        self.hit5.append(1.0 if found(5) else 0.0)
        self.by_type[kind].append(len(found(10)) / len(evidence))

    def row(self) -> tuple[float, float, float]:
        return statistics.fmean(self.recall5), statistics.fmean(self.recall10), statistics.fmean(self.hit5)


# --- the run ----------------------------------------------------------------------------------


def _token(key: rsa.RSAPrivateKey, subject: str) -> dict[str, str]:
    return session_headers(key, subject, azp=AZP)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _store(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, user: dict[str, Any], timings: list[float]
) -> dict[str, list[str]]:
    """Store every turn of one user; returns memory id → the turns it holds (duplicates merge)."""
    turns_of: dict[str, list[str]] = defaultdict(list)
    for session in user["sessions"]:
        conversation = str(uuid.uuid5(uuid.NAMESPACE_URL, f"delight-bench/{session['id']}"))
        for turn in session["turns"]:
            body = {
                "tier": "task",
                "content": turn["text"],
                "source": "conversation",
                "conversation_id": conversation,
                "metadata": {"speaker": turn["speaker"], "session_date": session["date"], "turn": turn["id"]},
            }
            started = time.perf_counter()
            response = await http.post("/api/v1/memories", json=body, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"POST /memories answered {response.status_code}: {response.text[:300]}")
            turns_of[response.json()["id"]].append(turn["id"])
    return turns_of


async def _list_all(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/api/v1/memories", params=params, headers=headers)).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


async def run_api(
    data: dict[str, Any], key: rsa.RSAPrivateKey, url: str
) -> tuple[
    dict[str, list[list[str]]], dict[str, dict[str, list[str]]], dict[str, dict[str, str]], list[float]
]:
    """Store (unless reused) and ask through the API. Returns, per question, the ranked memory ids;
    per user, memory id → turns and memory id → content; and the write timings."""
    timings: list[float] = []
    turns_of: dict[str, dict[str, list[str]]] = {}
    contents: dict[str, dict[str, str]] = {}
    ranked: dict[str, list[list[str]]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for name, user in data["users"].items():
            headers = _token(key, f"conv_{name}")
            listed = await _list_all(http, headers)
            if not (REUSE and listed):
                if listed:
                    raise RuntimeError("the database already holds this user's memories; remove BENCH_PG_DIR")
                turns_of[name] = await _store(http, headers, name, user, timings)
                listed = await _list_all(http, headers)
            else:  # rebuild the memory → turns map from the stored contents
                by_text: dict[str, list[str]] = defaultdict(list)
                for session in user["sessions"]:
                    for turn in session["turns"]:
                        by_text[_normalise(turn["text"])].append(turn["id"])
                turns_of[name] = {m["id"]: by_text.get(_normalise(m["content"]), []) for m in listed}
            contents[name] = {m["id"]: m["content"] for m in listed}
        for question in data["questions"]:
            headers = _token(key, f"conv_{question['user']}")
            response = await http.get(
                "/api/v1/memories/search", params={"q": question["question"], "limit": K}, headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(f"search answered {response.status_code}: {response.text[:300]}")
            ranked[question["id"]] = [
                [hit["memory"]["id"], hit["breakdown"]] for hit in response.json()["results"]
            ]
    return ranked, turns_of, contents, timings


def _baselines(
    data: dict[str, Any], contents: dict[str, dict[str, str]]
) -> tuple[dict[str, list[str]], dict[str, list[str]], float]:
    from app.memory.embeddings import LocalEmbedder  # noqa: PLC0415

    embedder = LocalEmbedder()
    dense: dict[str, list[str]] = {}
    lexical: dict[str, list[str]] = {}
    started = time.perf_counter()
    for name in data["users"]:
        ids = list(contents[name])
        texts = [contents[name][i] for i in ids]
        matrix = embedder.embed_sync(texts)
        bm25 = BM25(texts)
        questions = [q for q in data["questions"] if q["user"] == name]
        vectors = embedder.embed_sync([q["question"] for q in questions])
        for question, vector in zip(questions, vectors, strict=True):
            order = np.argsort(-(matrix @ vector), kind="stable")[:K]
            dense[question["id"]] = [ids[i] for i in order]
            lexical[question["id"]] = [ids[i] for i in bm25.top(question["question"], K)]
    return dense, lexical, time.perf_counter() - started


def score(
    data: dict[str, Any],
    systems: dict[str, Callable[[str], list[str]]],
    turns_of: dict[str, dict[str, list[str]]],
    held_out: bool,
) -> dict[str, Scores]:
    results = {name: Scores() for name in systems}
    for question in data["questions"]:
        if data["users"][question["user"]]["held_out"] != held_out:
            continue
        mapping = turns_of[question["user"]]
        evidence = set(question["evidence"])
        for name, ranking in systems.items():
            results[name].add(
                [set(mapping.get(m, [])) for m in ranking(question["id"])], evidence, question["type"]
            )
    return results


def _table(results: dict[str, Scores]) -> str:
    lines = ["| system | recall@5 | recall@10 | hit@5 |", "| --- | --- | --- | --- |"]
    for name, scores in results.items():
        r5, r10, h5 = scores.row()
        lines.append(f"| {name} | {r5:.3f} | {r10:.3f} | {h5:.3f} |")
    return "\n".join(lines)


def _types(results: dict[str, Scores]) -> str:
    kinds = sorted(next(iter(results.values())).by_type)
    counts = {k: len(next(iter(results.values())).by_type[k]) for k in kinds}
    lines = [
        "| system | " + " | ".join(f"{k} ({counts[k]})" for k in kinds) + " |",
        "| --- |" + " --- |" * len(kinds),
    ]
    for name, scores in results.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{statistics.fmean(scores.by_type[k]):.3f}" for k in kinds) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    from app.db.migrate import run_migrations  # noqa: PLC0415
    from app.devtools.embedded import start_postgres  # noqa: PLC0415

    data = json.loads(DATA.read_text())
    load_before = os.getloadavg()[0]
    if not REUSE and PG_DIR.exists():
        import shutil  # noqa: PLC0415

        shutil.rmtree(PG_DIR)
    postgres = start_postgres(PG_DIR, database=DATABASE)
    try:
        run_migrations(postgres.url)
        key_file = PG_DIR / "bench-key.pem"
        if REUSE and key_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_file.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        env = {
            "DATABASE_URL": postgres.url,
            "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
            "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "CLERK_JWT_KEY": public_pem,
            "ENVIRONMENT": "production",
            "LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        with uvicorn_server(env, PG_DIR / "server.log") as (url, _):
            ranked, turns_of, contents, timings = asyncio.run(run_api(data, key, url))
        api_seconds = time.perf_counter() - started
    finally:
        postgres.stop()
    dense, lexical, baseline_seconds = _baselines(data, contents)
    systems: dict[str, Callable[[str], list[str]]] = {
        "dense-only (exact cosine, same model)": lambda q: dense[q],
        "BM25-only (plain Okapi, in the benchmark)": lambda q: lexical[q],
        "shipped hybrid (`GET /api/v1/memories/search`)": lambda q: [m for m, _ in ranked[q]],
    }
    tuning = score(data, systems, turns_of, held_out=False)
    held = score(data, systems, turns_of, held_out=True)
    load_after = os.getloadavg()[0]
    memories = sum(len(c) for c in contents.values())
    turns = sum(len(s["turns"]) for u in data["users"].values() for s in u["sessions"])
    held_users = [n for n, u in data["users"].items() if u["held_out"]]
    n_tuning = sum(1 for q in data["questions"] if not data["users"][q["user"]]["held_out"])
    n_held = len(data["questions"]) - n_tuning
    gaps = {}
    for label, part in (("tuning", tuning), ("held-out", held)):
        names = list(part)
        best = max(part[names[0]].row()[1], part[names[1]].row()[1])
        gaps[label] = part[names[2]].row()[1] - best
    writes = (
        f"Writes (`POST /api/v1/memories`, one sequential client, small users, local model): "
        f"p50 {_pct(timings, 0.5):.1f} ms, p95 {_pct(timings, 0.95):.1f} ms over {len(timings)} stores."
        if timings
        else "Writes: not measured (reused database)."
    )
    body = f"""
Set `bench/data/memory_conversations.json`: {len(data["users"])} users, {turns} turns in dated sessions
({memories} memories after the API's de-duplication of repeated small talk), {len(data["questions"])}
questions with the ids of their evidence turns. Tuning part: {n_tuning} questions of
{len(data["users"]) - len(held_users)} users; held-out part: {n_held} questions of {", ".join(held_users)}
(never used for tuning). Same run, same stored memories, same questions for the three systems;
top {K}. API phase {api_seconds:.0f} s, baselines {baseline_seconds:.0f} s; 1-minute load average
{load_before:.1f} before, {load_after:.1f} after (2 shared cores).

**Tuning part** (the retrieval was tuned on these questions: optimistic):

{_table(tuning)}

**Held-out part** (never tuned on):

{_table(held)}

recall@10 of the hybrid minus the better baseline: tuning {gaps["tuning"]:+.3f},
held-out {gaps["held-out"]:+.3f}.

recall@10 by question type (tuning part):

{_types(tuning)}

recall@10 by question type (held-out part):

{_types(held)}

{writes}
"""
    if os.environ.get("BENCH_DRY") == "1":
        print(body)
    else:
        report.append("Memory recall on long conversations (`memory_conversations`)", body)
    if os.environ.get("MEMORY_CONVERSATIONS_DUMP"):
        dump = {
            q["id"]: {
                "question": q["question"],
                "evidence": q["evidence"],
                "hybrid": [[turns_of[q["user"]].get(m, []), b] for m, b in ranked[q["id"]]],
                "dense": [turns_of[q["user"]].get(m, []) for m in dense[q["id"]]],
                "bm25": [turns_of[q["user"]].get(m, []) for m in lexical[q["id"]]],
            }
            for q in data["questions"]
        }
        Path(os.environ["MEMORY_CONVERSATIONS_DUMP"]).write_text(
            json.dumps(dump, indent=1, ensure_ascii=False)
        )
