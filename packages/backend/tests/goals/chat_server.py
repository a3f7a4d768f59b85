"""A local HTTP server speaking OpenAI's chat-completions protocol (``POST /v1/chat/completions``),
non-streaming, answering each request with the next scripted reply: a plan returned as a function
call (what ``with_structured_output(method="function_calling")`` asks for), raw text, or an HTTP
error status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.support.local_server import JSONHandler, LocalServer


def plan_json(
    milestones: int = 4, missions_each: int = 3, minutes: int = 20, energy: str = "medium"
) -> dict[str, Any]:
    """A plan as a model would return it."""
    levels = ["low", "medium", "high"]
    return {
        "milestones": [
            {
                "title": f"Stage {stage + 1}",
                "description": f"What stage {stage + 1} is about",
                "missions": [
                    {
                        "title": f"Step {stage + 1}.{step + 1}",
                        "description": "Do the thing",
                        "estimated_minutes": minutes,
                        "energy_level": energy if energy != "mixed" else levels[(stage + step) % 3],
                    }
                    for step in range(missions_each)
                ],
            }
            for stage in range(milestones)
        ],
        "rationale": "A model plan",
    }


class ChatServer(LocalServer):
    def __init__(self, api_key: str = "sk-test-chat") -> None:
        self.api_key = api_key
        self.replies: list[dict[str, Any] | str | int] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                server.requests.append({"path": self.path, "body": body})
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self.send_error(401)
                    return
                reply = server.replies.pop(0) if server.replies else 500
                if isinstance(reply, int):
                    self.send_error(reply)
                    return
                self._answer(body, reply)

            def _answer(self, body: dict[str, Any], reply: dict[str, Any] | str) -> None:
                message: dict[str, Any] = {"role": "assistant", "content": None}
                if isinstance(reply, str):
                    message["content"] = reply
                    finish = "stop"
                else:
                    name = body["tools"][0]["function"]["name"]
                    message["tool_calls"] = [
                        {
                            "id": f"call_{len(server.requests)}",
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(reply)},
                        }
                    ]
                    finish = "tool_calls"
                self.send_json(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "test"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    },
                )

        super().__init__(Handler, "/v1")


def serve() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server
