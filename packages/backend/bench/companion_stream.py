"""Chat streaming overhead and concurrency: ``python -m bench companion_stream``.

Starts embedded PostgreSQL and Redis in a temporary folder, migrates, and runs the real app under
uvicorn in a subprocess (one worker, uvloop/httptools, ENVIRONMENT=production, JSON logs to a
file) pointed at an *instant* OpenAI-compatible server (a separate process on 127.0.0.1 that
answers every chat.completions request at once, streaming, with a usage chunk). So everything
measured is the service's own overhead: auth, rate limit, the two inserts and commit, spawning
the reply, the graph (emotion call to the model, memory recall with the local embedding model,
stressor/goal queries), the model round trip on loopback, Redis XADD/XREAD and SSE framing.

1. Overhead: COMPANION_BENCH_REQUESTS sequential chats (each a fresh conversation), timing
   ``POST /chat`` → first SSE ``token`` event on ``GET stream_url``; p50/p95/p99. Measured for the
   model path and for the offline responder (no model configured).
2. Concurrency: for each level in COMPANION_BENCH_LEVELS, that many clients at once each POST a
   message and read the reply stream to ``complete``; errors are non-2xx answers, ``error``
   events, streams without ``complete`` and client timeouts. Reports the largest level sustained
   without errors, with first-token and full-reply latency under load.
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
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import report
from bench.servers import free_port, uvicorn_server

BACKEND_DIR = Path(__file__).resolve().parents[1]
REQUESTS = int(os.environ.get("COMPANION_BENCH_REQUESTS", "200"))
LEVELS = [int(n) for n in os.environ.get("COMPANION_BENCH_LEVELS", "50,100,200,300").split(",")]
STREAM_TIMEOUT = float(os.environ.get("COMPANION_BENCH_TIMEOUT", "60"))
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


async def _sequential(url: str, headers: list[dict[str, str]]) -> Run:
    run = Run()
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT) as http:
        for warm in headers[:5]:
            await _one_chat(http, warm, Run())
        for i in range(REQUESTS):
            await _one_chat(http, headers[5 + i % (len(headers) - 5)], run)
    return run


async def _concurrent(url: str, headers: list[dict[str, str]], level: int) -> tuple[Run, float]:
    run = Run()
    limits = httpx.Limits(max_connections=level * 2 + 10, max_keepalive_connections=level * 2)
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_one_chat(http, headers[i % len(headers)], run) for i in range(level)))
        return run, time.perf_counter() - started


async def _provision(url: str, headers: list[dict[str, str]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for chunk in range(0, len(headers), 50):
            await asyncio.gather(
                *(http.get("/api/v1/users/me", headers=h) for h in headers[chunk : chunk + 50])
            )


def _overhead_line(name: str, run: Run) -> str:
    return (
        f"| {name} | {len(run.first_token)} | {_pct(run.first_token, 0.5):.1f} "
        f"| {_pct(run.first_token, 0.95):.1f} | {_pct(run.first_token, 0.99):.1f} "
        f"| {_pct(run.complete, 0.5):.1f} | {run.error_count} |"
    )


def main() -> None:
    from app.db.migrate import run_migrations  # noqa: PLC0415
    from app.devtools.embedded import start_postgres, start_redis  # noqa: PLC0415

    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="dlt-bench-chat-"))
    stops = []
    model_port = free_port()
    model = multiprocessing.get_context("spawn").Process(target=_serve_model, args=(model_port,), daemon=True)
    model.start()
    stops.append(model.terminate)
    try:
        postgres = start_postgres(root / "pg", database="delight_bench")
        stops.append(postgres.stop)
        redis = start_redis(root / "redis")
        stops.append(redis.stop)
        run_migrations(postgres.url)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        base_env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "CLERK_SECRET_KEY": "sk_live_bench" + secrets.token_hex(16),
            "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "CLERK_JWT_KEY": public_pem,
            "ENVIRONMENT": "production",
            "LOG_LEVEL": "WARNING",
        }
        model_env = {
            **base_env,
            "OPENAI_API_KEY": "sk-bench-" + secrets.token_hex(8),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
            "COMPANION_MODEL": "bench-model",
        }
        users_needed = max(REQUESTS // 15 + 6, max(LEVELS) // 15 + 1)
        results: dict[str, Run] = {}
        levels: list[tuple[int, Run, float]] = []
        with uvicorn_server(model_env, root / "server-model.log", "--backlog", "4096", stop_timeout=30) as (
            url,
            _,
        ):
            headers = _tokens(key, max(users_needed, 40), "user_model")
            asyncio.run(_provision(url, headers))
            results["model path (instant server)"] = asyncio.run(_sequential(url, headers))
            for level in LEVELS:  # one message per user: the rate limit is not what is measured
                level_headers = _tokens(key, level, f"user_conc{level}")
                asyncio.run(_provision(url, level_headers))
                run, seconds = asyncio.run(_concurrent(url, level_headers, level))
                levels.append((level, run, seconds))
        with uvicorn_server(base_env, root / "server-offline.log", "--backlog", "4096", stop_timeout=30) as (
            url,
            _,
        ):
            headers = _tokens(key, max(users_needed, 40), "user_offline")
            asyncio.run(_provision(url, headers))
            results["offline responder"] = asyncio.run(_sequential(url, headers))

        sustained = max((level for level, run, _ in levels if run.error_count == 0), default=0)
        level_rows = "\n".join(
            f"| {level} | {len(run.complete)} | {run.error_count} {dict(run.errors) or ''} | "
            f"{_pct(run.first_token, 0.5):.0f} | {_pct(run.first_token, 0.95):.0f} | "
            f"{_pct(run.complete, 0.95):.0f} | {seconds:.1f} |"
            for level, run, seconds in levels
        )
        body = f"""
Command: `./scripts/bench companion_stream`
(= `cd packages/backend && uv run python -m bench companion_stream`).
uvicorn (1 worker, production settings), embedded PostgreSQL and Redis, an instant OpenAI-compatible
server in another process (a {REPLY_WORDS}-token reply, no delay), all on loopback; the load client
runs on the same machine. Each chat: `POST /api/v1/companion/chat`, then `GET stream_url` read to
`complete`. "First token" is the time from sending the POST to receiving the first `token` event —
the service's own overhead (the model answers instantly). With a model configured a turn makes two
model calls (emotion, then the reply) and one local-embedding recall before the first token.

**Overhead, sequential ({REQUESTS} chats, fresh conversations), ms:**

| path | chats | first token p50 | p95 | p99 | complete p50 | errors |
|---|---|---|---|---|---|---|
{_overhead_line("model path (instant server)", results["model path (instant server)"])}
{_overhead_line("offline responder", results["offline responder"])}

**Concurrent streams (model path): N clients at once, each POST + full stream:**

| streams | completed | errors | first token p50 ms | p95 ms | complete p95 ms | wall s |
|---|---|---|---|---|---|---|
{level_rows}

Sustained without errors by one worker process: **{sustained} concurrent streams**.

Machine load average (1 min) before / after the run: {load_before:.1f} / {os.getloadavg()[0]:.1f}
(other processes share the cores; latencies scale with it).
"""
        if os.environ.get("COMPANION_BENCH_DRY_RUN") == "1":
            sys.stdout.write(body)
        else:
            report.append("companion_stream: POST /chat → first SSE token, concurrent streams", body)
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
