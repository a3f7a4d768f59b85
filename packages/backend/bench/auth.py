"""Per-request overhead and authenticated reads under load: ``./scripts/bench auth``.

One run measures three endpoints side by side, at AUTH_BENCH_CONNECTIONS (default 16, 32 and 64)
keep-alive connections from ``wrk`` (``-t AUTH_BENCH_WRK_THREADS``, default 1):

- ``bare``: a FastAPI app with one route and nothing else (``bench/_bare_app.py``), served by the
  same uvicorn: the floor for the per-request overhead of any FastAPI service;
- ``/``: the real app's trivial root route (middleware, request id, one JSON log line, CORS);
- ``/api/v1/users/me``: bearer token verified (RS256), the user loaded, the profile returned.

The real app runs as the runbook says: ``uvicorn main:app`` (one process, uvloop/httptools),
``ENVIRONMENT=production`` (so JSON logs, one line per request, written to a file), PostgreSQL
16 + pgvector and Redis embedded but reached over TCP on loopback, like a database on the network.
AUTH_BENCH_USERS (default 32) users' tokens are cycled through; they are provisioned before
measuring (the steady state, not the one-off insert); the per-user rate limit checks every request
but is set never to refuse one. Each level runs
AUTH_BENCH_ROUNDS rounds of AUTH_BENCH_SECONDS per endpoint, rotating the endpoint order per round
so a neighbour's load on the shared machine does not favour one of them. Reported per level:
req/s, p50/p99 latency (wrk's), errors, server CPU per request, and the ratios ``/`` ÷ bare and
``/users/me`` ÷ ``/`` computed within each round (medians over rounds, with every round's value).

``wrk`` is required (``apt-get install -y wrk``; ``brew install wrk`` on macOS): a Python load
client on the same two cores costs more per request than the server and would distort every ratio,
so there is no fallback. Then, unless AUTH_BENCH_PROFILE=0, an in-process profile (cProfile, the
app driven straight through ASGI) says where the time of an authenticated request goes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import cProfile
import logging
import os
import pstats
import resource
import secrets
import shutil
import statistics
import subprocess
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
from bench.servers import BARE_APP, cpu_seconds, tcp_postgres, tcp_redis, uvicorn_command, uvicorn_server

BACKEND_DIR = Path(__file__).resolve().parents[1]
LEVELS = [int(n) for n in os.environ.get("AUTH_BENCH_CONNECTIONS", "16,32,64").split(",")]
SECONDS = float(os.environ.get("AUTH_BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("AUTH_BENCH_ROUNDS", "3"))
WRK_THREADS = int(os.environ.get("AUTH_BENCH_WRK_THREADS", "1"))
PROFILE = os.environ.get("AUTH_BENCH_PROFILE", "1") != "0"
PROFILE_REQUESTS = int(os.environ.get("AUTH_BENCH_PROFILE_REQUESTS", "2000"))
# Few busy users (the per-request overhead, caches warm); AUTH_BENCH_USERS=4000 spreads the load
# over enough users that their cached entries expire between their requests, as with many users.
USERS = int(os.environ.get("AUTH_BENCH_USERS", "32"))
AZP = "http://localhost:3000"
TRIVIAL = "/"
AUTHENTICATED = "/api/v1/users/me"
AIM_LEVEL = 32
AIM_TRIVIAL_VS_BARE = 0.8
AIM_AUTH_VS_TRIVIAL = 0.5
WRK_MISSING = (
    "bench auth needs wrk, the HTTP load generator: install it with `apt-get install -y wrk` "
    "(Debian/Ubuntu) or `brew install wrk` (macOS). There is no fallback on purpose: a Python load "
    "client on the same cores costs more per request than the server and distorts every number."
)


@dataclass(frozen=True)
class Target:
    key: str  # "bare", "trivial", "authenticated"
    label: str
    url: str
    path: str
    pid: int
    tokens: tuple[str, ...] = ()


@dataclass
class Phase:
    target: Target
    connections: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_seconds: float
    client_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_seconds / max(self.requests, 1) * 1e6

    @property
    def client_us_per_request(self) -> float:
        return self.client_cpu_seconds / max(self.requests, 1) * 1e6


# --- environment -----------------------------------------------------------------------------


def _key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def _tokens(key: rsa.RSAPrivateKey) -> list[dict[str, str]]:
    """One Clerk-shaped session token per user, valid well past the end of the run."""
    now = int(time.time())
    lifetime = int(3600 + 4 * len(LEVELS) * ROUNDS * 3 * SECONDS)
    headers = []
    for i in range(USERS):
        claims = {
            "sub": f"user_bench_{i:04d}",
            "sid": f"sess_bench_{i:04d}",
            "azp": AZP,
            "iss": "https://clerk.bench.example",
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "ins_bench"})
        headers.append({"Authorization": f"Bearer {token}"})
    return headers


def _settings_env(database_url: str, redis_url: str, public_pem: str) -> dict[str, str]:
    """Production settings (runbook), LOG_LEVEL/LOG_FORMAT default, a rate limit that never trips."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
        "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "CLERK_JWT_KEY": public_pem,
        "ENVIRONMENT": "production",
        # A few users at thousands of requests per second would be refused after 100 each: the
        # limiter still checks every request (in Redis, or from a leased slot), it never says no.
        "RATE_LIMIT_PER_MINUTE": "100000000",
    }


# --- load: wrk -------------------------------------------------------------------------------

# wrk runs this Lua per request: it cycles through the users' tokens (none for unauthenticated
# targets) and, at the end, prints one machine-readable line.
LUA = """
local tokens = {%(tokens)s}
local n = 0
request = function()
  n = n + 1
  if #tokens > 0 then
    wrk.headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]
  end
  return wrk.format("GET", "%(path)s")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %%d %%d %%d %%d %%d %%d %%d %%f %%f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(target: Target, folder: Path) -> Path:
    path = folder / f"{target.key}.lua"
    tokens = ", ".join(f'"{token}"' for token in target.tokens)
    path.write_text(LUA % {"tokens": tokens, "path": target.path})
    return path


def _wrk(target: Target, connections: int, seconds: float, script: Path) -> Phase:
    threads = min(WRK_THREADS, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        target.url + target.path,
    ]
    cpu_before = cpu_seconds(target.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(target.pid) - cpu_before
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout}")
    requests, duration_us, connect, read, write, status, timeout, p50_us, p99_us = (
        float(x) for x in line.split()[1:]
    )
    client_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return Phase(
        target,
        connections,
        int(requests),
        int(connect + read + write + status + timeout),
        duration_us / 1e6,
        p50_us / 1000,
        p99_us / 1000,
        server_cpu,
        client_cpu,
    )


LOAD_AT_START: dict[int, float] = {}


def _measure(targets: list[Target], folder: Path) -> dict[int, list[dict[str, Phase]]]:
    scripts = {t.key: _lua(t, folder) for t in targets}
    for target in targets:  # warm up: connections, caches, the pool, prepared statements
        _wrk(target, max(LEVELS), min(2.0, SECONDS), scripts[target.key])
    results: dict[int, list[dict[str, Phase]]] = {}
    for connections in LEVELS:
        LOAD_AT_START[connections] = os.getloadavg()[0]
        rounds = []
        for number in range(ROUNDS):
            # Rotate the order per round: slow drift on a shared machine then favours nobody.
            order = targets[number % len(targets) :] + targets[: number % len(targets)]
            phases = {t.key: _wrk(t, connections, SECONDS, scripts[t.key]) for t in order}
            rounds.append(phases)
            sys.stderr.write(
                f"c={connections} round {number + 1}: "
                + ", ".join(f"{k} {p.rps:.0f} req/s" for k, p in phases.items())
                + "\n"
            )
        results[connections] = rounds
    return results


def _provision(url: str, headers: list[dict[str, str]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for request_headers in headers:
            client.get(AUTHENTICATED, headers=request_headers).raise_for_status()


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
        subs = [f"user_bench_{i:04d}" for i in range(len(headers))]

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
            # Warm caches (every user's token and row, as in the HTTP runs), the pool and the
            # prepared-statement cache.
            for i in range(max(200, len(headers)) if call is authenticated else 200):
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
        f"| database alone: a session doing the user SELECT in a transaction, as `CurrentUser` did "
        f"when this bench was written (pool checkout, BEGIN, SELECT, COMMIT) "
        f"| {costs['lookup']:.0f} | {costs['lookup'] / authenticated:.0%} |",
        f"| the rest: dependencies, response model, JSON (authenticated − the rows above; negative "
        f"when the lookup above is no longer on the request path) "
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


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(targets: list[Target], results: dict[int, list[dict[str, Phase]]]) -> str:
    lines = [
        "| connections | endpoint | req/s | p50 ms | p99 ms | errors | server CPU µs/req | wrk CPU µs/req |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for connections, rounds in results.items():
        for target in targets:
            phases = [r[target.key] for r in rounds]
            lines.append(
                f"| {connections} | {target.label} | {_median([p.rps for p in phases]):.0f} "
                f"| {_median([p.p50_ms for p in phases]):.2f} | {_median([p.p99_ms for p in phases]):.2f} "
                f"| {sum(p.errors for p in phases)} "
                f"| {_median([p.cpu_us_per_request for p in phases]):.0f} "
                f"| {_median([p.client_us_per_request for p in phases]):.0f} |"
            )
    lines += [
        "",
        "Ratios of throughput, computed within each round (the endpoints of one round ran back to "
        "back), median over the rounds; every round's value in brackets:",
        "",
        "| connections | `/` ÷ bare | `/users/me` ÷ `/` | `/users/me` ÷ bare | 1-min load at start |",
        "|---:|---|---|---|---:|",
    ]
    verdicts = []
    for connections, rounds in results.items():
        cells = []
        for top, bottom in (("trivial", "bare"), ("authenticated", "trivial"), ("authenticated", "bare")):
            ratios = [r[top].rps / r[bottom].rps for r in rounds]
            cells.append(f"**{_median(ratios):.2f}** ({', '.join(f'{x:.2f}' for x in ratios)})")
            if connections == AIM_LEVEL and (top, bottom) == ("trivial", "bare"):
                verdicts.append(_verdict("`/` ÷ bare", _median(ratios), AIM_TRIVIAL_VS_BARE))
            if connections == AIM_LEVEL and (top, bottom) == ("authenticated", "trivial"):
                verdicts.append(_verdict("`/users/me` ÷ `/`", _median(ratios), AIM_AUTH_VS_TRIVIAL))
        load = LOAD_AT_START.get(connections, float("nan"))
        lines.append(f"| {connections} | {' | '.join(cells)} | {load:.2f} |")
    if verdicts:
        lines += ["", f"Aims at {AIM_LEVEL} connections (issue 11): " + "; ".join(verdicts) + "."]
    errors = sum(p.errors for rounds in results.values() for r in rounds for p in r.values())
    if errors:
        lines += ["", f"**{errors} requests failed** (non-2xx, socket errors or timeouts): read with care."]
    return "\n".join(lines)


def _verdict(name: str, value: float, aim: float) -> str:
    return f"{name} {value:.2f} {'meets' if value >= aim else 'misses'} ≥ {aim}"


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(WRK_MISSING)
    from app.db.migrate import run_migrations  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="dlt-bench-auth-"))
    stops = []
    try:
        postgres = tcp_postgres(root / "pg", database="delight_bench")
        stops.append(postgres.stop)
        redis = tcp_redis(root / "redis")
        stops.append(redis.stop)
        run_migrations(postgres.url)
        key, public_pem = _key_pair()
        headers = _tokens(key)
        env = _settings_env(postgres.url, redis.url, public_pem)
        bare_args = ("--no-access-log",)
        with (
            uvicorn_server(env, root / "server.log") as (url, pid),
            uvicorn_server({}, root / "bare.log", *bare_args, app=BARE_APP, ready_path="/") as (
                bare_url,
                bare,
            ),
        ):
            _provision(url, headers)
            tokens = tuple(h["Authorization"].removeprefix("Bearer ") for h in headers)
            targets = [
                Target("bare", "bare FastAPI `GET /`", bare_url, "/", bare),
                Target("trivial", "app `GET /`", url, TRIVIAL, pid),
                Target("authenticated", "app `GET /api/v1/users/me`", url, AUTHENTICATED, pid, tokens),
            ]
            results = _measure(targets, root)
            json_lines = sum(1 for line in (root / "server.log").read_text().splitlines() if line[:1] == "{")
        profile = _profile(env, headers) if PROFILE else "Profile skipped (AUTH_BENCH_PROFILE=0)."
        rounds = f"{ROUNDS} round{'s' if ROUNDS != 1 else ''}"
        body = f"""
Servers, all on this machine over loopback. The app as the runbook starts it,
`{uvicorn_command()}`
(one process, uvloop/httptools, `ENVIRONMENT=production`, so one JSON log line per request:
{json_lines:,} lines written to a file during the run), with PostgreSQL 16 + pgvector and Redis
reached over TCP (`DATABASE_URL=postgresql://…@127.0.0.1:<port>/…`); the per-user rate limit checks
every request but is set high enough never to refuse one. The bare floor,
`{uvicorn_command(BARE_APP, *bare_args)}`
(one route; no middleware, logging or database). Load:
`wrk -t{WRK_THREADS} -c<connections> -d{SECONDS:g}s -s <script>`,
the Lua script cycling through {USERS:,} users' session tokens for `/users/me`; {rounds} per level,
the endpoint order rotated per round. p50/p99 are wrk's latency percentiles; each cell is the
median over the rounds. Server CPU is the serving process's user+system time per request; wrk CPU
is the load generator's, which shares the same two cores.

{_summary(targets, results)}

{profile}
"""
        report.append("auth: bare FastAPI vs `GET /` vs authenticated `GET /api/v1/users/me` (wrk)", body)
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
