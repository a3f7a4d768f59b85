"""Request bodies are capped before they are read (413), chunked or not; text PostgreSQL cannot
store (U+0000) is refused up front (422); the Clerk webhook keeps its own cap."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.core.config import Settings
from bench.servers import uvicorn_server
from tests.conftest import WEBHOOK_SECRET
from tests.support.services import ServiceURLs

CAP = 256 * 1024
MB = 1024 * 1024


async def call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Drive the ASGI app directly: (status, JSON body, how many body messages it pulled)."""
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


def endless(size: int = 64 * 1024) -> Iterator[bytes]:
    while True:
        yield b"x" * size


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    error = body["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit": CAP}
    assert error["request_id"]


async def test_a_declared_length_over_the_cap_is_refused_without_reading_the_body(app: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(50 * MB).encode())]
    status, body, pulled = await call(app, "POST", "/api/v1/memories", headers, endless())
    assert_too_large(status, body)
    assert pulled == 0  # not one byte was read


async def test_a_chunked_body_is_cut_off_at_the_cap(app: Any) -> None:
    """No Content-Length: the body is read only until it passes the cap (no token needed to get
    there: the cap comes before any route or dependency)."""
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    status, body, pulled = await call(app, "POST", "/api/v1/goals", headers, endless())
    assert_too_large(status, body)
    assert pulled == CAP // (64 * 1024) + 1


async def test_a_body_under_the_cap_reaches_the_route(client: httpx.AsyncClient, auth_headers: Any) -> None:
    content = json.dumps({"tier": "personal", "content": "I like tea", "metadata": {"pad": "x" * 200_000}})
    response = await client.post(
        "/api/v1/memories", content=content, headers={**auth_headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422  # the route's own rule (metadata size), not the body cap
    assert response.json()["error"]["details"][0]["field"] == "metadata"


async def test_the_cap_is_a_setting(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(max_request_body_bytes=4096))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/api/v1/goals", content=b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit": 4096}


async def test_the_webhook_keeps_its_own_cap(client: httpx.AsyncClient) -> None:
    # Over the general cap, under the webhook's 1 MiB: read and verified (here: unsigned → 400).
    response = await client.post("/api/v1/webhooks/clerk", content=b"x" * (CAP + 1))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_signature_headers"
    response = await client.post("/api/v1/webhooks/clerk", content=b"x" * (MB + 1))
    assert response.status_code == 413


@pytest.mark.parametrize(
    "content",
    [
        '{"tier": "personal", "content": "tea", "metadata": {"note": "a\\u0000b"}}',
        '{"tier": "personal", "content": "te\\u0000a"}',
        '{"tier": "personal", "content": "tea", "metadata": {"k\\u0000": 1}}',
        '{"tier": "personal", "content": "tea", "metadata": {"note": "\\\\\\u0000"}}',
    ],
)
async def test_nul_characters_are_refused_before_they_reach_postgresql(
    client: httpx.AsyncClient, auth_headers: Any, content: str
) -> None:
    """Issue 12 (schemathesis): a NUL in metadata was a 500 (jsonb refuses \\u0000; text too)."""
    response = await client.post(
        "/api/v1/memories", content=content, headers={**auth_headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["location"] == "body"


async def test_an_escaped_backslash_before_u0000_is_plain_text(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    content = '{"tier": "personal", "content": "the escape \\\\u0000 is six characters"}'
    response = await client.post(
        "/api/v1/memories", content=content, headers={**auth_headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["content"] == "the escape \\u0000 is six characters"


async def test_a_nul_in_the_query_is_refused(client: httpx.AsyncClient, auth_headers: Any) -> None:
    response = await client.get("/api/v1/memories/search?q=tea%00", headers=auth_headers())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["location"] == "query"


# --- the real server: memory stays flat under a 50 MB body -----------------------------------------


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def send_raw(url: str, head: bytes, body: Iterator[bytes]) -> bytes:
    """Send ``head`` then ``body`` on one connection while reading the answer concurrently (the
    server answers, and closes, long before a 50 MB body is through)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    received = bytearray()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                received.extend(chunk)
        except OSError:
            return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sock.sendall(head)
        for chunk in body:
            sock.sendall(chunk)
    except OSError:
        pass  # the server closed the connection after answering: expected
    finally:
        reader.join(timeout=30)
        sock.close()
    return bytes(received)


def fifty_mb(chunked: bool) -> Iterator[bytes]:
    piece = b" " * MB
    for _ in range(50):
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def test_a_50_mb_body_without_a_token_leaves_the_servers_memory_flat(
    services: ServiceURLs, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "CLERK_SECRET_KEY": "sk_test_body_limit",
        "CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLERK_JWT_KEY": settings.clerk_jwt_key or "",
        "ENVIRONMENT": "production",
    }
    with uvicorn_server(env, tmp_path / "uvicorn.log") as (url, pid):
        host = urlsplit(url).netloc.encode()
        declared = b"POST /api/v1/memories HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
        declared += b"Content-Type: application/json\r\n"
        length_head = declared + f"Content-Length: {50 * MB}\r\n\r\n".encode()
        chunked_head = declared + b"Transfer-Encoding: chunked\r\n\r\n"
        for _ in range(3):  # warm up every code path once
            assert httpx.get(url + "/api/v1/users/me").status_code == 401
            send_raw(url, chunked_head, iter([b"2\r\n{}\r\n0\r\n\r\n"]))
            send_raw(url, length_head, iter([b"{}"]))
        before = memory_kib(pid)
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
        answers = [send_raw(url, length_head, fifty_mb(False)), send_raw(url, chunked_head, fifty_mb(True))]
        after = memory_kib(pid)
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b'"code":"payload_too_large"' in answer
    growth_kib = after["VmHWM"] - before["VmRSS"]
    assert growth_kib < 4 * 1024, f"peak RSS grew by {growth_kib} KiB while 100 MB were sent"
