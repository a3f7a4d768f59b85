"""Chat streaming overhead and concurrency: ``./scripts/bench companion_stream``.

Starts PostgreSQL (+pgvector) and Redis, embedded but reached over TCP, migrates, and runs the real
app as the runbook does (``uvicorn main:app``: one process, uvloop/httptools,
``ENVIRONMENT=production``, JSON logs to a file) pointed at an *instant* OpenAI-compatible server (a
separate process on 127.0.0.1 that answers every chat.completions request at once, streaming, with
a usage chunk). So everything measured is the service's own overhead: auth, rate limit, the
inserts and commit, spawning the reply, the graph (emotion call to the model, memory recall with
the local embedding model, stressor/goal queries), the model round trip on loopback, Redis
XADD/XREAD and SSE framing. "First token" is the time from sending ``POST /chat`` to receiving the
first SSE ``token`` event on ``GET stream_url``.

1. Single-stream overhead: COMPANION_BENCH_REQUESTS sequential chats (each a fresh conversation);
   first-token p50/p95/p99, for the model path (aim, issue 11: p95 < 50 ms) and, as a baseline in
   the same run, the offline responder (no model configured).
2. 50 concurrent conversations (COMPANION_BENCH_CONCURRENT), started at once, each POSTing a
   message and reading its reply to ``complete``; repeated COMPANION_BENCH_REPEATS times with fresh
   users. First-token p95 over all of them (aim, issue 11: < 1 s).
3. Sustained streams: the most conversations started at once whose first-token p95 stays within
   COMPANION_BENCH_FIRST_TOKEN_LIMIT_MS (1000 ms) with no errors (non-2xx, ``error`` events,
   streams without ``complete``, client timeouts). Levels from COMPANION_BENCH_LEVELS are tried in
   ascending order until one fails, then the gap is bisected down to COMPANION_BENCH_RESOLUTION.
   One burst per level: the answer is approximate, and says which level failed and how.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import report
from bench.servers import cpu_seconds, free_port, tcp_postgres, tcp_redis, uvicorn_command, uvicorn_server

BACKEND_DIR = Path(__file__).resolve().parents[1]
REQUESTS = int(os.environ.get("COMPANION_BENCH_REQUESTS", "200"))
CONCURRENT = int(os.environ.get("COMPANION_BENCH_CONCURRENT", "50"))
REPEATS = int(os.environ.get("COMPANION_BENCH_REPEATS", "3"))
LEVELS = sorted(int(n) for n in os.environ.get("COMPANION_BENCH_LEVELS", "10,25,50,100,200").split(","))
LIMIT_MS = float(os.environ.get("COMPANION_BENCH_FIRST_TOKEN_LIMIT_MS", "1000"))
RESOLUTION = int(os.environ.get("COMPANION_BENCH_RESOLUTION", "5"))
STREAM_TIMEOUT = float(os.environ.get("COMPANION_BENCH_TIMEOUT", "60"))
AIM_SINGLE_P95_MS = 50
AIM_CONCURRENT_P95_MS = 1000
REPLY_WORDS = 40
AZP = "http://localhost:3000"
MESSAGE = "I'm a bit stressed about the launch on Friday, but I love long walks with my dog."


# --- the instant model ----------------------------------------------------------------------------


def _chunk(payload: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(payload).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _answer(body: dict[str, object]) -> bytes:
    model = str(body.get("model", "bench-model"))
    if "response_format" in body:
        words = ['{"emotion": "fear", "intensity": 0.4, "energy": "medium"}']
    else:
        words = [f"word{n} " for n in range(REPLY_WORDS)]

    def delta(content: dict[str, object], finish: str | None = None) -> dict[str, object]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": content, "finish_reason": finish}],
        }

    parts = [_chunk(delta({"role": "assistant", "content": ""}))]
    parts += [_chunk(delta({"content": word})) for word in words]
    parts.append(_chunk(delta({}, "stop")))
    usage = {"prompt_tokens": 100, "completion_tokens": len(words), "total_tokens": 100 + len(words)}
    parts.append(
        _chunk(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    )
    data = b"data: [DONE]\n\n"
    parts.append(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"".join(parts)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = json.loads(await reader.readexactly(length)) if length else {}
            writer.write(_answer(body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve_model(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


# --- environment ------------------------------------------------------------------------------------


def _tokens(key: rsa.RSAPrivateKey, count: int, prefix: str) -> list[dict[str, str]]:
    now = int(time.time())
    return [
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {
                    "sub": f"{prefix}_{i:04d}",
                    "sid": f"sess_{prefix}_{i}",
                    "azp": AZP,
                    "iat": now,
                    "nbf": now - 5,
                    "exp": now + 7200,
                },
                key,
                algorithm="RS256",
                headers={"kid": "ins_bench"},
            )
        }
        for i in range(count)
    ]


# --- environment ------------------------------------------------------------------------------------


def _tokens(key: rsa.RSAPrivateKey, count: int, prefix: str) -> list[dict[str, str]]:
    now = int(time.time())
    return [
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {
                    "sub": f"{prefix}_{i:04d}",
                    "sid": f"sess_{prefix}_{i}",
                    "azp": AZP,
                    "iat": now,
                    "nbf": now - 5,
                    "exp": now + 7200,
                },
                key,
                algorithm="RS256",
                headers={"kid": "ins_bench"},
            )
        }
        for i in range(count)
    ]


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Run:
    first_token: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _one_chat(http: httpx.AsyncClient, headers: dict[str, str], run: Run) -> None:
    started = time.perf_counter()
    try:
        response = await http.post("/api/v1/companion/chat", json={"message": MESSAGE}, headers=headers)
        if response.status_code != 202:
            run.error(f"POST {response.status_code}")
            return
        first = None
        async with http.stream("GET", response.json()["stream_url"], headers=headers) as stream:
            if stream.status_code != 200:
                run.error(f"GET {stream.status_code}")
                return
            async for line in stream.aiter_lines():
                if not line.startswith("data: "):
                    continue
                kind = json.loads(line[6:])["type"]
                if kind == "token" and first is None:
                    first = time.perf_counter() - started
                elif kind == "complete":
                    run.first_token.append(first if first is not None else float("nan"))
                    run.complete.append(time.perf_counter() - started)
                    return
                elif kind == "error":
                    run.error("error event")
                    return
        run.error("no complete event")
    except httpx.HTTPError as exc:
        run.error(type(exc).__name__)


async def _sequential(url: str, pid: int, headers: list[dict[str, str]]) -> tuple[Run, float]:
    """REQUESTS chats one after another; returns them and the server's CPU seconds per chat."""
    run = Run()
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT) as http:
        for warm in headers[:5]:
            await _one_chat(http, warm, Run())
        before = cpu_seconds(pid)
        for i in range(REQUESTS):
            await _one_chat(http, headers[5 + i % (len(headers) - 5)], run)
        return run, (cpu_seconds(pid) - before) / max(len(run.complete), 1)


@dataclass
class Burst:
    """``level`` conversations started at once (one or more repeats, pooled)."""

    level: int
    run: Run = field(default_factory=Run)
    seconds: list[float] = field(default_factory=list)  # wall time of each repeat
    p95s: list[float] = field(default_factory=list)  # first-token p95 of each repeat
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    load: list[float] = field(default_factory=list)

    @property
    def first_token_p95(self) -> float:
        return _pct(self.run.first_token, 0.95)

    @property
    def held(self) -> bool:
        return self.run.error_count == 0 and self.first_token_p95 <= LIMIT_MS


async def _burst(url: str, headers: list[dict[str, str]], into: Run) -> float:
    limits = httpx.Limits(max_connections=len(headers) * 2 + 10, max_keepalive_connections=len(headers) * 2)
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_one_chat(http, h, into) for h in headers))
        return time.perf_counter() - started


async def _provision(url: str, headers: list[dict[str, str]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for chunk in range(0, len(headers), 50):
            await asyncio.gather(
                *(http.get("/api/v1/users/me", headers=h) for h in headers[chunk : chunk + 50])
            )


class Bursts:
    """Runs bursts against one server; every burst uses fresh, provisioned users (one message
    each), so neither the per-user rate limit nor a reply in flight is what gets measured."""

    def __init__(self, url: str, pid: int, key: rsa.RSAPrivateKey) -> None:
        self.url, self.pid, self.key = url, pid, key
        self.count = 0
        self.measured: dict[int, Burst] = {}

    def measure(self, level: int, repeats: int = 1) -> Burst:
        if level in self.measured:
            return self.measured[level]
        burst = Burst(level)
        for _ in range(repeats):
            self.count += 1
            headers = _tokens(self.key, level, f"user_burst{self.count:03d}")
            asyncio.run(_provision(self.url, headers))
            burst.load.append(os.getloadavg()[0])
            server_before, client_before = cpu_seconds(self.pid), time.process_time()
            one = Run()
            burst.seconds.append(asyncio.run(_burst(self.url, headers, one)))
            burst.server_cpu += cpu_seconds(self.pid) - server_before
            burst.client_cpu += time.process_time() - client_before
            burst.p95s.append(_pct(one.first_token, 0.95))
            burst.run.first_token += one.first_token
            burst.run.complete += one.complete
            for kind, n in one.errors.items():
                burst.run.errors[kind] = burst.run.errors.get(kind, 0) + n
        self.measured[level] = burst
        return burst

    def sustained(self) -> tuple[int, Burst | None]:
        """The largest level held (first-token p95 within the limit, no errors), and the burst of
        the smallest level that was not (None when every level tried held)."""
        held, failed = 0, None
        for level in LEVELS:
            burst = self.measure(level)
            if not burst.held:
                failed = burst
                break
            held = level
        while failed is not None and failed.level - held > RESOLUTION:
            middle = (held + failed.level) // 2
            burst = self.measure(middle)
            if burst.held:
                held = middle
            else:
                failed = burst
        return held, failed


def _overhead_line(name: str, measured: tuple[Run, float], aim: float | None = None) -> str:
    run, cpu = measured
    p95 = _pct(run.first_token, 0.95)
    verdict = "" if aim is None else f" ({'meets' if p95 < aim else 'misses'} < {aim:g} ms)"
    return (
        f"| {name} | {len(run.first_token)} | {_pct(run.first_token, 0.5):.1f} "
        f"| **{p95:.1f}**{verdict} | {_pct(run.first_token, 0.99):.1f} "
        f"| {_pct(run.complete, 0.5):.1f} | {cpu * 1000:.0f} | {run.error_count} |"
    )


BURST_HEADER = (
    "| at once | repeats | completed | errors | first token p50 ms | p95 ms | complete p95 ms | wall s "
    "| server CPU ms/chat | client CPU ms/chat | load | held |\n"
    "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _burst_row(burst: Burst) -> str:
    errors = f"{burst.run.error_count} {dict(burst.run.errors) or ''}".strip()
    completed = len(burst.run.complete)
    return (
        f"| {burst.level} | {len(burst.seconds)} | {completed} | {errors} "
        f"| {_pct(burst.run.first_token, 0.5):.0f} | {burst.first_token_p95:.0f} "
        f"| {_pct(burst.run.complete, 0.95):.0f} | {max(burst.seconds):.1f} "
        f"| {burst.server_cpu / max(completed, 1) * 1000:.0f} "
        f"| {burst.client_cpu / max(completed, 1) * 1000:.0f} "
        f"| {max(burst.load):.1f} | {'yes' if burst.held else 'no'} |"
    )


def _sustained_line(held: int, failed: Burst | None) -> str:
    limit = f"first-token p95 ≤ {LIMIT_MS:g} ms and no errors"
    if failed is None:
        return (
            f"Sustained ({limit}): **at least {held} concurrent conversations** on one process: every "
            f"level tried held, up to {LEVELS[-1]}."
        )
    why = f"p95 {failed.first_token_p95:.0f} ms" + (
        f", {failed.run.error_count} errors" if failed.run.error_count else ""
    )
    if held == 0:
        return (
            f"Sustained ({limit}): **fewer than {failed.level} concurrent conversations**: even "
            f"{failed.level} at once missed ({why})."
        )
    return (
        f"Sustained ({limit}): **{held} concurrent conversations** on one process "
        f"({failed.level} at once missed: {why}; one burst per level, so ± {RESOLUTION})."
    )


def main() -> None:
    from app.db.migrate import run_migrations  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="dlt-bench-chat-"))
    stops = []
    model_port = free_port()
    model = multiprocessing.get_context("spawn").Process(target=_serve_model, args=(model_port,), daemon=True)
    model.start()
    stops.append(model.terminate)
    try:
        postgres = tcp_postgres(root / "pg", database="delight_bench")
        stops.append(postgres.stop)
        redis = tcp_redis(root / "redis")
        stops.append(redis.stop)
        run_migrations(postgres.url)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        base_env = {  # production settings; LOG_LEVEL and LOG_FORMAT at their defaults (JSON, INFO)
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
            "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "CLERK_JWT_KEY": public_pem,
            "ENVIRONMENT": "production",
        }
        model_env = {
            **base_env,
            "OPENAI_API_KEY": "sk-bench-" + secrets.token_hex(8),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
            "COMPANION_MODEL": "bench-model",
        }
        users_needed = max(REQUESTS // 15 + 6, 40)  # the rate limit (20/min/user) is not measured
        with uvicorn_server(model_env, root / "server-model.log", stop_timeout=30) as (url, pid):
            headers = _tokens(key, users_needed, "user_model")
            asyncio.run(_provision(url, headers))
            single = asyncio.run(_sequential(url, pid, headers))
            bursts = Bursts(url, pid, key)
            headline = bursts.measure(CONCURRENT, REPEATS)
            held, failed = bursts.sustained()
        with uvicorn_server(base_env, root / "server-offline.log", stop_timeout=30) as (url, pid):
            headers = _tokens(key, users_needed, "user_offline")
            asyncio.run(_provision(url, headers))
            offline = asyncio.run(_sequential(url, pid, headers))

        p95 = headline.first_token_p95
        verdict = "meets" if p95 < AIM_CONCURRENT_P95_MS and headline.run.error_count == 0 else "misses"
        slowdown = p95 / _pct(single[0].first_token, 0.95)
        per_repeat = ", ".join(f"{x:.0f}" for x in headline.p95s)
        rows = "\n".join(_burst_row(b) for _, b in sorted(bursts.measured.items()))
        body = f"""
The app as the runbook starts it,
`{uvicorn_command()}`
(one process, `ENVIRONMENT=production`, JSON logs to a file), PostgreSQL 16 + pgvector and
Redis embedded but reached over TCP, and an instant OpenAI-compatible server in another process
(a {REPLY_WORDS}-token reply, no delay), all on loopback; the load client (httpx) runs on the
same two cores. Each chat: `POST /api/v1/companion/chat`, then `GET stream_url` read to
`complete`. "First token": from sending the POST to receiving the first `token` event, i.e. the
service's own overhead, since the model answers instantly. With a model configured a turn makes
two model calls (emotion, then the reply) and one local-embedding recall before the first token.

**Single-stream overhead: {REQUESTS} sequential chats, fresh conversations, ms** (the offline
responder, no model configured, is the baseline in the same run):

| path | chats | first token p50 | p95 | p99 | complete p50 | server CPU/chat | errors |
|---|---:|---:|---:|---:|---:|---:|---:|
{_overhead_line("model path (instant server)", single, AIM_SINGLE_P95_MS)}
{_overhead_line("offline responder", offline)}

**{CONCURRENT} concurrent conversations on one process**, started at once, in {REPEATS} separate
burst(s) with fresh users: first-token p95 **{p95:.0f} ms** over all {len(headline.run.first_token)}
(per burst: {per_repeat}); {verdict} the < {AIM_CONCURRENT_P95_MS} ms aim. That is {slowdown:.0f}×
the single-stream p95 of this run.

**Conversations started at once (model path).** Each row pools `repeats` bursts of that many
conversations; CPU per chat is the server process's and the load client's; load is the highest
1-min load average seen when a burst started; "held" means first-token p95 ≤ {LIMIT_MS:g} ms and
no errors:

{BURST_HEADER}
{rows}

{_sustained_line(held, failed)}
"""
        report.append(
            "companion_stream: POST /chat → first SSE token, 50 concurrent, sustained streams", body
        )
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
