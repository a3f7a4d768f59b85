"""GET /users/me/export streams: the document is written piece by piece (memories and conversations
page by page, each page from its own short transaction), not built whole in memory."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.memory.service import content_hash
from app.models import Conversation, Memory, MemoryTier, Message, User
from tests.auth.conftest import ApiFactory

MEMORIES = 1_050  # over five pages of 200
CONVERSATIONS = 45  # three pages of 20


async def fill(db: AsyncSession, user_id: uuid.UUID) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    await db.execute(
        insert(Memory),
        [
            {
                "user_id": user_id,
                "tier": MemoryTier.task,
                "content": f"Memory number {n}",
                "content_hash": content_hash(f"Memory number {n}"),
                "source": "api",
                "created_at": start + timedelta(seconds=n // 3),  # ties: the id breaks them
                "updated_at": start,
                "accessed_at": start,
            }
            for n in range(MEMORIES)
        ],
    )
    for n in range(CONVERSATIONS):
        conversation = Conversation(
            user_id=user_id, title=f"Talk {n}", created_at=start + timedelta(minutes=n)
        )
        db.add(conversation)
        await db.flush()
        db.add_all(
            Message(
                user_id=user_id,
                conversation_id=conversation.id,
                role=role,
                content=f"{role} {n}",
                status="complete",
            )
            for role in ("user", "assistant")
        )
    await db.commit()


async def get_messages(app: Any, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Call the ASGI app directly and keep every message it sends (an HTTP client would join the
    body pieces): how the response is really written."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    await app(scope, receive, send)
    return sent


async def test_a_large_export_is_streamed_page_by_page(
    app: Any, client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_big")
    user_id = uuid.UUID((await client.get("/api/v1/users/me", headers=headers)).json()["id"])
    assert (await db.get(User, user_id)) is not None
    await fill(db, user_id)

    sent = await get_messages(app, "/api/v1/users/me/export", headers)
    start = sent[0]
    assert start["status"] == 200
    response_headers = dict(start["headers"])
    assert response_headers[b"content-type"] == b"application/json"
    assert b"content-length" not in response_headers  # streamed, not sized up front
    chunks = [m["body"] for m in sent[1:] if m.get("body")]
    # A piece per section, and one per page of the paged sections (6 of memories, 3 of conversations).
    assert len(chunks) >= 9 + 6 + 3
    largest = max(len(chunk) for chunk in chunks)
    export = json.loads(b"".join(chunks))
    assert largest < len(b"".join(chunks)) / 4

    assert export["format_version"] == 1 and export["user"]["clerk_user_id"] == "user_big"
    memories = export["memories"]
    assert {m["content"] for m in memories} == {f"Memory number {n}" for n in range(MEMORIES)}
    assert len({m["id"] for m in memories}) == MEMORIES  # every one, once
    keys = [(m["created_at"], m["id"]) for m in memories]
    assert keys == sorted(keys)  # oldest first across the pages
    conversations = export["conversations"]
    assert [c["title"] for c in conversations] == [f"Talk {n}" for n in range(CONVERSATIONS)]
    assert all(len(c["messages"]) == 2 for c in conversations)
    assert list(export)[:2] == ["exported_at", "format_version"]
    assert list(export)[2:] == sorted(list(export)[2:])


async def test_an_empty_account_exports_empty_lists(api: ApiFactory, auth_headers: Any) -> None:
    client = await api()
    export = (await client.get("/api/v1/users/me/export", headers=auth_headers("user_new"))).json()
    assert export["memories"] == [] and export["conversations"] == []
