"""Soak: ten minutes of mixed traffic against one API process: ``./scripts/bench soak``.

The app as the runbook starts it (``uvicorn main:app``, ``ENVIRONMENT=production``, JSON logs to a
file) with a worker (``delight worker``), PostgreSQL 16 + pgvector and Redis embedded but reached
over TCP, and an instant OpenAI-compatible model in another process. SOAK_BENCH_CONCURRENCY virtual
users' loops (each owning its share of SOAK_BENCH_USERS accounts, so no two loops race on one
user's missions and every user stays inside the production rate limits) run for
SOAK_BENCH_SECONDS: chat (POST, then the reply stream read to ``complete``), memories (store,
search, list), goals (create, read, change), missions (create, start and complete, the triad) and
reads (profile, history, progress).

Every ten seconds it samples the API process's resident memory (VmRSS), the database connections
of the API and of the worker (``pg_stat_activity`` by ``application_name``) and Redis's connected
clients. Aims (issue 12): no errors at all; RSS grows less than 10% from the end of the first
minute to the end; no growth in open database or Redis connections after the first minute.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import report
from bench.companion_stream import _serve_model, _tokens
from bench.servers import BACKEND_DIR, free_port, tcp_postgres, tcp_redis, uvicorn_command, uvicorn_server

SECONDS = float(os.environ.get("SOAK_BENCH_SECONDS", "600"))
CONCURRENCY = int(os.environ.get("SOAK_BENCH_CONCURRENCY", "32"))
USERS = int(os.environ.get("SOAK_BENCH_USERS", "384"))
SAMPLE_EVERY = float(os.environ.get("SOAK_BENCH_SAMPLE_SECONDS", "10"))
WARMUP = 60.0  # growth is measured from the end of the first minute
AIM_RSS_GROWTH = 0.10
WORDS = [
    "tea",
    "walk",
    "sister",
    "launch",
    "thesis",
    "marathon",
    "cello",
    "garden",
    "piano",
    "chess",
    "budget",
    "sleep",
]

# Relative frequency of each action of a virtual user.
MIX = {
    "chat": 12,
    "memory_store": 12,
    "memory_search": 10,
    "memory_list": 5,
    "goal_create": 4,
    "goal_read": 10,
    "goal_update": 3,
    "mission_create": 8,
    "mission_work": 6,
    "triad": 5,
    "me": 10,
    "history": 5,
    "progress": 5,
}


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Account:
    headers: dict[str, str]
    goals: list[str] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (mission, its goal)


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def took(self, action: str, seconds: float) -> None:
        self.latency.setdefault(action, []).append(seconds)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latency.values())


class Failed(Exception):
    """An answer other than the expected one (counted as an error of the run)."""


def expect(response: httpx.Response, *codes: int) -> httpx.Response:
    if response.status_code not in codes:
        path = response.request.url.path
        for part in path.split("/"):
            with contextlib.suppress(ValueError):
                uuid.UUID(part)
                path = path.replace(part, "{id}")
        raise Failed(f"{response.request.method} {path} → {response.status_code}")
    return response


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(6)) + f" {uuid.uuid4().hex[:8]}"


async def act(http: httpx.AsyncClient, action: str, user: Account, rng: random.Random) -> None:
    h = user.headers
    if action == "chat":
        accepted = expect(
            await http.post("/api/v1/companion/chat", json={"message": sentence(rng)}, headers=h), 202
        )
        async with http.stream("GET", accepted.json()["stream_url"], headers=h) as stream:
            expect(stream, 200)
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    kind = json.loads(line[6:])["type"]
                    if kind == "complete":
                        return
                    if kind in ("error", "reconnect"):
                        raise Failed(f"stream {kind} event")
        raise Failed("stream ended without complete")
    if action == "memory_store":
        body = {"tier": rng.choice(["personal", "project", "task"]), "content": sentence(rng)}
        expect(await http.post("/api/v1/memories", json=body, headers=h), 200, 201)
    elif action == "memory_search":
        expect(await http.get("/api/v1/memories/search", params={"q": sentence(rng)[:40]}, headers=h), 200)
    elif action == "memory_list":
        expect(await http.get("/api/v1/memories", params={"limit": 20}, headers=h), 200)
    elif action == "goal_create" or (
        action in ("goal_read", "goal_update", "mission_create") and not user.goals
    ):
        if len(user.goals) >= 5:  # keep the account realistic: archive the oldest first
            archived = user.goals.pop(0)
            expect(await http.delete(f"/api/v1/goals/{archived}", headers=h), 204)
            user.pending = [(m, g) for m, g in user.pending if g != archived]
        body = {"title": sentence(rng)[:60], "goal_type": "concrete", "value_category": "growth"}
        user.goals.append(expect(await http.post("/api/v1/goals", json=body, headers=h), 201).json()["id"])
    elif action == "goal_read":
        expect(await http.get("/api/v1/goals", headers=h), 200)
        expect(await http.get(f"/api/v1/goals/{rng.choice(user.goals)}", headers=h), 200)
    elif action == "goal_update":
        body = {"importance": rng.randint(1, 5)}
        expect(await http.patch(f"/api/v1/goals/{rng.choice(user.goals)}", json=body, headers=h), 200)
    elif action == "mission_create":
        goal = rng.choice(user.goals)
        body = {
            "goal_id": goal,
            "title": sentence(rng)[:60],
            "estimated_minutes": rng.choice([10, 20, 30]),
            "energy_level": rng.choice(["low", "medium", "high"]),
        }
        created = expect(await http.post("/api/v1/missions", json=body, headers=h), 201)
        user.pending.append((created.json()["id"], goal))
    elif action == "mission_work":
        if not user.pending:
            expect(await http.get("/api/v1/missions", params={"status": "pending"}, headers=h), 200)
            return
        mission, _ = user.pending.pop(0)
        expect(await http.post(f"/api/v1/missions/{mission}/start", headers=h), 200)
        body = {"actual_minutes": 15, "notes": sentence(rng)}
        expect(await http.post(f"/api/v1/missions/{mission}/complete", json=body, headers=h), 200)
    elif action == "triad":
        expect(await http.get("/api/v1/missions/triad", headers=h), 200)
    elif action == "me":
        expect(await http.get("/api/v1/users/me", headers=h), 200)
    elif action == "history":
        expect(await http.get("/api/v1/companion/history", params={"limit": 20}, headers=h), 200)
    elif action == "progress":
        expect(await http.get("/api/v1/progress/daily", headers=h), 200)


async def virtual_user(
    http: httpx.AsyncClient, accounts: list[Account], until: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    actions, weights = list(MIX), list(MIX.values())
    for user in itertools.cycle(accounts):
        if time.monotonic() >= until:
            return
        action = rng.choices(actions, weights)[0]
        started = time.perf_counter()
        try:
            await act(http, action, user, rng)
        except Failed as exc:
            tally.errors[str(exc)] += 1
        except httpx.HTTPError as exc:
            tally.errors[f"{action}: {type(exc).__name__}"] += 1
        tally.took(action, time.perf_counter() - started)


# --- sampling -------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    rss_kib: int
    api_db: int
    worker_db: int
    redis_clients: int


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def sampler(
    pid: int, db_url: str, redis_url: str, started: float, until: float, out: list[Sample]
) -> None:
    connection = await asyncpg.connect(db_url)
    counter = redis.Redis.from_url(redis_url)
    try:
        while True:
            rows = await connection.fetch(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
            )
            by_app = {row[0]: int(row[1]) for row in rows}
            clients = int(counter.info("clients")["connected_clients"]) - 1  # not this sampler's own
            out.append(
                Sample(
                    time.monotonic() - started,
                    rss_kib(pid),
                    by_app.get("delight-api", 0),
                    by_app.get("delight-worker", 0),
                    clients,
                )
            )
            if time.monotonic() >= until:
                return
            await asyncio.sleep(SAMPLE_EVERY)
    finally:
        await connection.close()
        counter.close()


async def soak(
    url: str, pid: int, key: rsa.RSAPrivateKey, db_url: str, redis_url: str
) -> tuple[Tally, list[Sample], float]:
    headers = _tokens(key, USERS, "user_soak")
    accounts = [Account(h) for h in headers]
    tally, samples = Tally(), []
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        for chunk in range(0, USERS, 32):  # provisioned before the clock starts
            await asyncio.gather(
                *(http.get("/api/v1/users/me", headers=a.headers) for a in accounts[chunk : chunk + 32])
            )
        started = time.monotonic()
        until = started + SECONDS
        loops = [
            virtual_user(http, accounts[i::CONCURRENCY], until, tally, seed=i) for i in range(CONCURRENCY)
        ]
        await asyncio.gather(sampler(pid, db_url, redis_url, started, until, samples), *loops)
        elapsed = time.monotonic() - started
    return tally, samples, elapsed


# --- the report -----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def summarize(tally: Tally, samples: list[Sample], elapsed: float) -> str:
    after = [s for s in samples if s.at >= WARMUP] or samples
    base = after[0]
    end = samples[-1]
    growth = (end.rss_kib - base.rss_kib) / base.rss_kib
    peak = max(s.rss_kib for s in after)
    # Two windows of equal length: right after the first minute, and the end of the run.
    window = min(180.0, max(SAMPLE_EVERY, (end.at - WARMUP) / 2))
    early = [s for s in after if s.at < base.at + window] or [base]
    late = [s for s in after if s.at > end.at - window] or [end]

    def grew(attr: str) -> tuple[int, int, int, bool]:
        first = max(getattr(s, attr) for s in early)
        last = max(getattr(s, attr) for s in late)
        return first, max(getattr(s, attr) for s in after), last, last <= first

    api_db, worker_db, clients = grew("api_db"), grew("worker_db"), grew("redis_clients")
    errors = sum(tally.errors.values())
    rss_ok = growth < AIM_RSS_GROWTH
    verdict = "meets" if errors == 0 and rss_ok and api_db[3] and worker_db[3] and clients[3] else "misses"
    rows = "\n".join(
        f"| {action} | {len(v)} | {_pct(v, 0.5):.0f} | {_pct(v, 0.95):.0f} | {_pct(v, 0.99):.0f} |"
        for action, v in sorted(tally.latency.items())
    )
    error_rows = (
        "\n".join(f"| {kind} | {count} |" for kind, count in tally.errors.most_common()) or "| none | 0 |"
    )
    timeline = "\n".join(
        f"| {s.at:.0f} | {s.rss_kib / 1024:.1f} | {s.api_db} | {s.worker_db} | {s.redis_clients} |"
        for s in samples
        if s is samples[0] or s is samples[-1] or int(s.at) % 60 < SAMPLE_EVERY
    )

    def conn_line(name: str, values: tuple[int, int, int, bool]) -> str:
        first, most, last, ok = values
        return f"| {name} | {first} | {most} | {last} | {'no growth' if ok else 'grew'} |"

    return f"""
`{uvicorn_command()}` (one process, `ENVIRONMENT=production`, JSON logs to a file) with
`delight worker`, PostgreSQL 16 + pgvector and Redis embedded but reached over TCP, an instant
OpenAI-compatible model in another process; {CONCURRENCY} closed-loop virtual users over {USERS}
accounts (production limits: 100 requests/min per user, chat 20/min) for {elapsed:.0f} s, the load
client on the same two cores. Mix (relative weights): {", ".join(f"{k} {v}" for k, v in MIX.items())}.

**{verdict} the aims**: {tally.requests} actions ({tally.requests / elapsed:.0f}/s), **{errors} errors**;
API RSS {base.rss_kib / 1024:.1f} MiB at {base.at:.0f} s → {end.rss_kib / 1024:.1f} MiB at the end
(**{growth:+.1%}**, aim < {AIM_RSS_GROWTH:.0%}; peak {peak / 1024:.1f} MiB).

| connections | max, first {window:.0f} s after minute 1 | max after minute 1 | max, last {window:.0f} s | |
|---|---:|---:|---:|---|
{conn_line("PostgreSQL, API", api_db)}
{conn_line("PostgreSQL, worker", worker_db)}
{conn_line("Redis clients (API + worker)", clients)}

| action | count | p50 ms | p95 ms | p99 ms |
|---|---:|---:|---:|---:|
{rows}

| error | count |
|---|---:|
{error_rows}

Samples (every minute): seconds, API RSS MiB, database connections of the API and the worker,
Redis clients.

| s | RSS MiB | DB API | DB worker | Redis |
|---:|---:|---:|---:|---:|
{timeline}
"""


def main() -> None:
    from app.db.migrate import run_migrations  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="dlt-bench-soak-"))
    stops = []
    model_port = free_port()
    model = multiprocessing.get_context("spawn").Process(target=_serve_model, args=(model_port,), daemon=True)
    model.start()
    stops.append(model.terminate)
    try:
        postgres = tcp_postgres(root / "pg", database="delight_soak")
        stops.append(postgres.stop)
        store = tcp_redis(root / "redis")
        stops.append(store.stop)
        run_migrations(postgres.url)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        env = {  # production settings, as deployed
            "REDIS_URL": store.url,
            "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
            "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "CLERK_JWT_KEY": public_pem,
            "ENVIRONMENT": "production",
            "OPENAI_API_KEY": "sk-bench-" + secrets.token_hex(8),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
            "COMPANION_MODEL": "bench-model",
        }
        worker_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(root)),
            **env,
            "DATABASE_URL": postgres.url + "?application_name=delight-worker",
        }
        with (root / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=BACKEND_DIR,
                env=worker_env,
                stdout=log,
                stderr=log,
            )
            stops.append(worker.terminate)
            api_env = {**env, "DATABASE_URL": postgres.url + "?application_name=delight-api"}
            with uvicorn_server(api_env, root / "api.log", stop_timeout=60) as (url, pid):
                tally, samples, elapsed = asyncio.run(soak(url, pid, key, postgres.url, store.url))
        report.append("Soak: mixed traffic for ten minutes", summarize(tally, samples, elapsed))
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)
