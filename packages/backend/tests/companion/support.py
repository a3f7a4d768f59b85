"""Helpers for the companion tests: SSE parsing and chat round trips over the real app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SSE:
    events: list[tuple[str | None, dict[str, Any]]]
    comments: list[str]
    retry: int | None

    @property
    def tokens(self) -> list[str]:
        return [data["content"] for _, data in self.events if data["type"] == "token"]

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1][1]

    @property
    def ids(self) -> list[str | None]:
        return [event_id for event_id, _ in self.events]


def parse_sse(body: str) -> SSE:
    """Parse an SSE body per the HTML spec's field rules (id, data, retry, comments)."""
    events: list[tuple[str | None, dict[str, Any]]] = []
    comments: list[str] = []
    retry: int | None = None
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        event_id: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
            elif field == "retry":
                retry = int(value)
        if data:
            events.append((event_id, json.loads("\n".join(data))))
    return SSE(events, comments, retry)


async def send(
    client: httpx.AsyncClient, headers: dict[str, str], message: str, conversation_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = await client.post("/api/v1/companion/chat", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def stream(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    accepted: dict[str, Any],
    last_event_id: str | None = None,
) -> SSE:
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = await client.get(accepted["stream_url"], headers={**headers, **extra})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


async def chat(
    client: httpx.AsyncClient, headers: dict[str, str], message: str, conversation_id: str | None = None
) -> tuple[dict[str, Any], SSE]:
    """POST a message and read its reply stream to the end."""
    accepted = await send(client, headers, message, conversation_id)
    return accepted, await stream(client, headers, accepted)
