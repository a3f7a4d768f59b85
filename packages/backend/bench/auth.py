"""Authenticated read throughput: ``python -m bench auth`` (or ``./scripts/bench auth``).

Starts embedded PostgreSQL and Redis in a temporary folder, migrates, and runs the real app under
uvicorn in a subprocess (one worker, uvloop/httptools as in production, ENVIRONMENT=production so
logs are JSON lines, written to a file) with a benchmark RSA key pair as CLERK_JWT_KEY. From the
same machine, over loopback, an async httpx client keeps AUTH_BENCH_CONCURRENCY requests in
flight against

- ``GET /api/v1/health/live`` — the trivial, unauthenticated endpoint of the same app, and
- ``GET /api/v1/users/me`` — bearer token verified (RS256), user loaded from PostgreSQL,

for AUTH_BENCH_SECONDS each (or AUTH_BENCH_MAX_REQUESTS), alternating over AUTH_BENCH_ROUNDS
rounds. It reports requests/s, p50/p99 latency, the server process's CPU time per request, and
the throughput ratio authenticated/trivial (aim: ≥ 0.5). Users are provisioned before measuring:
the steady state is measured, not the one-off just-in-time insert.

Then one in-process profile (cProfile, the app driven through httpx.ASGITransport) of
AUTH_BENCH_PROFILE_REQUESTS sequential requests to each endpoint says where the time goes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import cProfile
import logging
import os
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import report
from bench.servers import uvicorn_server

BACKEND_DIR = Path(__file__).resolve().parents[1]
CONCURRENCY = int(os.environ.get("AUTH_BENCH_CONCURRENCY", "16"))
SECONDS = float(os.environ.get("AUTH_BENCH_SECONDS", "6"))
MAX_REQUESTS = int(os.environ.get("AUTH_BENCH_MAX_REQUESTS", "100000"))
ROUNDS = int(os.environ.get("AUTH_BENCH_ROUNDS", "3"))
PROFILE_REQUESTS = int(os.environ.get("AUTH_BENCH_PROFILE_REQUESTS", "2000"))
USERS = 32
AZP = "http://localhost:3000"
TRIVIAL = "/api/v1/health/live"
AUTHENTICATED = "/api/v1/users/me"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    path: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests * 1e6


# --- environment -----------------------------------------------------------------------------


def _key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def _tokens(key: rsa.RSAPrivateKey) -> list[dict[str, str]]:
    """One Clerk-shaped session token per user, valid for the whole run."""
    now = int(time.time())
    headers = []
    for i in range(USERS):
        claims = {
            "sub": f"user_bench_{i:03d}",
            "sid": f"sess_bench_{i:03d}",
            "azp": AZP,
            "iss": "https://clerk.bench.example",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "ins_bench"})
        headers.append({"Authorization": f"Bearer {token}"})
    return headers


def _settings_env(database_url: str, redis_url: str, public_pem: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
        "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "CLERK_JWT_KEY": public_pem,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "INFO",
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


# --- load ------------------------------------------------------------------------------------


async def _phase(url: str, pid: int, path: str, headers: list[dict[str, str]]) -> Phase:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(
            *(client.get(path, headers=headers[i % len(headers)]) for i in range(CONCURRENCY))
        )
        sent = 0
        cpu_before = _cpu_seconds(pid)
        started = time.perf_counter()
        deadline = started + SECONDS

        async def worker(index: int) -> None:
            nonlocal sent, errors
            request_headers = headers[index % len(headers)]
            while sent < MAX_REQUESTS and time.perf_counter() < deadline:
                sent += 1
                begin = time.perf_counter()
                response = await client.get(path, headers=request_headers)
                latencies.append(time.perf_counter() - begin)
                if response.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pid) - cpu_before
    return Phase(path, len(latencies), errors, elapsed, latencies, cpu)


async def _provision(url: str, headers: list[dict[str, str]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for request_headers in headers:
            response = await client.get(AUTHENTICATED, headers=request_headers)
            response.raise_for_status()


async def _measure(url: str, pid: int, headers: list[dict[str, str]]) -> list[tuple[Phase, Phase]]:
    await _provision(url, headers)
    rounds = []
    for number in range(ROUNDS):
        # Alternate the order so slow drift on a shared machine does not favour one endpoint.
        if number % 2 == 0:
            trivial = await _phase(url, pid, TRIVIAL, [{}])
            authenticated = await _phase(url, pid, AUTHENTICATED, headers)
        else:
            authenticated = await _phase(url, pid, AUTHENTICATED, headers)
            trivial = await _phase(url, pid, TRIVIAL, [{}])
        rounds.append((trivial, authenticated))
        sys.stderr.write(
            f"round {number + 1}: trivial {trivial.rps:.0f} req/s, "
            f"authenticated {authenticated.rps:.0f} req/s\n"
        )
    return rounds


# --- where the time goes ----------------------------------------------------------------------

CATEGORIES = [
    ("token verification: RSA signature (cryptography)", ("cryptography", "RSAPublicKey")),
    ("token verification: PyJWT (base64, JSON, claims)", ("/jwt/",)),
    ("asyncpg (protocol)", ("asyncpg",)),
    ("SQLAlchemy (session, pool, ORM, greenlet bridge)", ("sqlalchemy", "greenlet")),
    ("request log line (structlog + logging)", ("structlog", "/logging/")),
    ("pydantic (response model)", ("pydantic",)),
    ("FastAPI/Starlette (routing, middleware, dependencies)", ("/fastapi/", "/starlette/")),
    ("app code (middleware, deps, security, repository)", ("/app/",)),
    ("event loop and sockets", ("asyncio", "select", "_socket", "contextvars")),
]
OTHER = "other (builtins, json, uuid, ...)"


def _category(function: tuple[str, int, str]) -> str:
    filename, _, name = function
    where = f"{filename} {name}"
    for label, needles in CATEGORIES:
        if any(needle in where for needle in needles):
            return label
    return OTHER


async def _asgi_get(app: Any, path: str, headers: dict[str, str]) -> None:
    """One request straight into the ASGI app: no HTTP client, no server, only the app's own work."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"GET {path} answered {status}")


async def _cpu_per_call(call: Any, repeat: int = 3) -> float:
    """Best-of-``repeat`` CPU µs per call over PROFILE_REQUESTS calls (the best run is the one the
    other tenants of a shared machine disturbed least)."""
    results = []
    for _ in range(repeat):
        started = time.process_time()
        for i in range(PROFILE_REQUESTS):
            await call(i)
        results.append((time.process_time() - started) / PROFILE_REQUESTS * 1e6)
    return min(results)


async def _in_process(
    env: dict[str, str], headers: list[dict[str, str]]
) -> tuple[dict[str, float], pstats.Stats]:
    from app.core.config import load_settings  # noqa: PLC0415 - after the environment is set
    from app.main import create_app  # noqa: PLC0415
    from app.users import repository  # noqa: PLC0415

    settings = load_settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    app = create_app(settings)
    costs: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        resources = app.state.resources
        tokens = [h["Authorization"].removeprefix("Bearer ") for h in headers]
        subs = [f"user_bench_{i:03d}" for i in range(len(headers))]

        async def trivial(i: int) -> None:
            await _asgi_get(app, TRIVIAL, {})

        async def authenticated(i: int) -> None:
            await _asgi_get(app, AUTHENTICATED, headers[i % len(headers)])

        async def verify(i: int) -> None:
            await resources.verifier.verify(tokens[i % len(tokens)])

        async def lookup(i: int) -> None:
            # What CurrentUser and the request's transaction do in the database for GET /me.
            async with resources.sessions() as session:
                await repository.get_by_clerk_id(session, subs[i % len(subs)])
                await session.commit()

        for call in (trivial, authenticated, verify, lookup):
            for i in range(200):  # warm caches, the pool and the prepared-statement cache
                await call(i)
        costs["trivial"] = await _cpu_per_call(trivial)
        costs["authenticated"] = await _cpu_per_call(authenticated)
        costs["verify"] = await _cpu_per_call(verify)
        costs["lookup"] = await _cpu_per_call(lookup)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for i in range(PROFILE_REQUESTS):
            await authenticated(i)
        profiler.disable()
    return costs, pstats.Stats(profiler)


def _profile(env: dict[str, str], headers: list[dict[str, str]]) -> str:
    # The app logs one JSON line per request to stderr, as in production; keep them off the screen.
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        costs, stats = asyncio.run(_in_process(env, headers))
    logging.getLogger().handlers[:] = []  # the app's handler wrote to the sink closed above

    trivial, authenticated = costs["trivial"], costs["authenticated"]
    extra = authenticated - trivial
    rest = extra - costs["verify"] - costs["lookup"]
    lines = [
        f"Where the time goes: CPU per request of the app alone (requests sent straight into the ASGI "
        f"app in this process, no HTTP client or server; best of 3 × {PROFILE_REQUESTS}):",
        "",
        "| part | CPU µs/req | share of the authenticated request |",
        "|---|---:|---:|",
        f"| shared by both endpoints: middleware, routing, JSON request log line (= the trivial endpoint) "
        f"| {trivial:.0f} | {trivial / authenticated:.0%} |",
        f"| session token verification (`TokenVerifier.verify`: header, RS256, claims) "
        f"| {costs['verify']:.0f} | {costs['verify'] / authenticated:.0%} |",
        f"| database: session, pool checkout (pre-ping), BEGIN, user SELECT, COMMIT "
        f"| {costs['lookup']:.0f} | {costs['lookup'] / authenticated:.0%} |",
        f"| the rest: dependency resolution (4 dependencies), response model, JSON "
        f"| {rest:.0f} | {rest / authenticated:.0%} |",
        f"| **authenticated request** | {authenticated:.0f} | 100% |",
        "",
        f"By the app's own CPU, the authenticated read costs {authenticated / trivial:.1f}× the trivial "
        f"endpoint; over HTTP the fixed per-request cost of the server and the client narrows that gap "
        f"(see the throughput table).",
        "",
    ]
    sums: dict[str, float] = defaultdict(float)
    rows = []
    for function, (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        sums[_category(function)] += tottime
        rows.append((tottime, f"{Path(function[0]).name}:{function[1]}({function[2]})"))
    total = sum(sums.values())
    lines += [
        f"cProfile (CPU time) of {PROFILE_REQUESTS} authenticated requests, own time by package "
        "(cProfile inflates pure-Python code relative to C: read the shares, not the times):",
        "",
        "| package | share |",
        "|---|---:|",
    ]
    for label in sorted(sums, key=lambda name: -sums[name]):
        lines.append(f"| {label} | {sums[label] / total:.1%} |")
    lines += ["", "Top functions by own time:", "", "```"]
    for tottime, name in sorted(rows, reverse=True)[:10]:
        lines.append(f"{tottime / total:6.1%}  {name}")
    lines.append("```")
    return "\n".join(lines)


# --- report ----------------------------------------------------------------------------------


def _summary(rounds: list[tuple[Phase, Phase]]) -> str:
    def pooled(index: int) -> Phase:
        phases = [pair[index] for pair in rounds]
        return Phase(
            phases[0].path,
            sum(p.requests for p in phases),
            sum(p.errors for p in phases),
            sum(p.seconds for p in phases),
            [latency for p in phases for latency in p.latencies],
            sum(p.server_cpu_seconds for p in phases),
        )

    trivial, authenticated = pooled(0), pooled(1)
    ratios = [a.rps / t.rps for t, a in rounds]
    ratio = statistics.median(ratios)
    lines = [
        f"uvicorn (1 worker, production settings, JSON request log to a file), loopback, "
        f"{CONCURRENCY} concurrent keep-alive connections from an async httpx client, "
        f"{ROUNDS} alternating rounds of {SECONDS:g} s per endpoint, {USERS} users.",
        "",
        "| endpoint | requests | errors | req/s | p50 ms | p99 ms | server CPU µs/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in (trivial, authenticated):
        lines.append(
            f"| `GET {phase.path}` | {phase.requests} | {phase.errors} | {phase.rps:.0f} | "
            f"{phase.percentile(0.50):.2f} | {phase.percentile(0.99):.2f} | {phase.cpu_us_per_request:.0f} |"
        )
    verdict = "meets" if ratio >= 0.5 else "misses"
    lines += [
        "",
        f"**Throughput ratio authenticated/trivial: {ratio:.2f}** (median of the rounds: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); {verdict} the ≥ 0.5 aim.",
    ]
    return "\n".join(lines)


def main() -> None:
    from app.db.migrate import run_migrations  # noqa: PLC0415
    from app.devtools.embedded import start_postgres, start_redis  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="dlt-bench-auth-"))
    stops = []
    try:
        postgres = start_postgres(root / "pg", database="delight_bench")
        stops.append(postgres.stop)
        redis = start_redis(root / "redis")
        stops.append(redis.stop)
        run_migrations(postgres.url)
        key, public_pem = _key_pair()
        headers = _tokens(key)
        env = _settings_env(postgres.url, redis.url, public_pem)
        with uvicorn_server(env, root / "server.log") as (url, pid):
            rounds = asyncio.run(_measure(url, pid, headers))
        profile = _profile(env, headers)
        body = (
            "Command: `./scripts/bench auth` (= `cd packages/backend && uv run python -m bench auth`).\n\n"
            f"{_summary(rounds)}\n\n{profile}\n"
        )
        if os.environ.get("AUTH_BENCH_DRY_RUN") == "1":  # while tuning: print, do not record
            sys.stdout.write(body)
        else:
            report.append("auth: authenticated GET /api/v1/users/me vs trivial endpoint", body)
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
