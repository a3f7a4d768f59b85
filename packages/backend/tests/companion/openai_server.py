"""A local server speaking OpenAI's chat-completions protocol (streaming and not), so the real
client code (langchain-openai → openai → httpx) runs in tests, including its failure modes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.local_server import JSONHandler, LocalServer


@dataclass
class Script:
    """What the server answers. ``mode``: ok | error500 | stall (no headers) | stall_mid (stops
    sending after ``tokens_before_failure`` tokens) | broken (connection cut after that many) |
    unfinished (the stream ends cleanly but without a finish_reason)."""

    reply: str = "Hello from the model. How can I help today?"
    mode: str = "ok"
    tokens_before_failure: int = 2
    token_delay: float = 0.0
    emotion_json: str = '{"emotion": "fear", "intensity": 0.7, "energy": "low"}'
    facts_json: str = '{"facts": []}'
    fail_first: int = 0  # answer 500 to this many requests first, then follow ``mode``
    prompt_tokens: int = 42
    chat_mode_only: bool = True  # failure modes apply to the reply stream, not the JSON calls
    # While set and not yet released, reply streams wait before their first token (JSON calls don't).
    hold: threading.Event | None = None
    json_delay: float = 0.0  # seconds before answering a JSON call (emotion, extraction)


@dataclass
class OpenAIServer(LocalServer):
    script: Script = field(default_factory=Script)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.reply_requested = threading.Event()  # set when a reply stream (not a JSON call) arrives
        self._lock = threading.Lock()
        server = self

        class Handler(JSONHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.read_json()
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                    )
                    index = len(server.requests)
                if not self.path.endswith("/chat/completions"):
                    self.send_json(404, {"error": {"message": "not found"}})
                    return
                server._answer(self, body, index)

        self.Handler = Handler
        LocalServer.__init__(self, Handler, "/v1")

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # release handlers stalled on purpose before shutting down
        if self.script.hold is not None:
            self.script.hold.set()
        super().__exit__(*exc)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [
            r["body"] for r in self.requests if r["body"].get("stream") and "response_format" not in r["body"]
        ]

    # --- answers ----------------------------------------------------------------------------

    def _answer(self, handler: Any, body: dict[str, Any], index: int) -> None:
        script = self.script
        is_json_call = "response_format" in body
        if index <= script.fail_first or (
            script.mode == "error500" and not (is_json_call and script.chat_mode_only)
        ):
            handler.send_json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
            return
        if is_json_call:
            system = " ".join(
                str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
            )
            content = script.emotion_json if "emotional state" in system else script.facts_json
            self._complete(handler, body, content)
            return
        self.reply_requested.set()
        mode = script.mode
        while script.hold is not None and not script.hold.is_set() and not self._stop.is_set():
            script.hold.wait(0.05)
        if mode == "stall":
            self._stop.wait(30)
            return
        self._stream(handler, body, script.reply, mode)

    def _complete(self, handler: Any, body: dict[str, Any], content: str) -> None:
        if self.script.json_delay:
            self._stop.wait(self.script.json_delay)
        usage = {
            "prompt_tokens": self.script.prompt_tokens,
            "completion_tokens": 9,
            "total_tokens": self.script.prompt_tokens + 9,
        }
        if body.get("stream"):
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            self._chunk(handler, self._delta(body, {"role": "assistant", "content": content}))
            self._chunk(handler, self._delta(body, {}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                self._chunk(
                    handler,
                    {
                        "id": "chatcmpl-t",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body["model"],
                        "choices": [],
                        "usage": usage,
                    },
                )
            self._raw(handler, b"data: [DONE]\n\n")
            self._raw(handler, b"", final=True)
            return
        handler.send_json(
            200,
            {
                "id": "chatcmpl-t",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    def _stream(self, handler: Any, body: dict[str, Any], reply: str, mode: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        words = [w + " " for w in reply.split(" ")]
        words[-1] = words[-1].rstrip()
        self._chunk(handler, self._delta(body, {"role": "assistant", "content": ""}))
        for position, word in enumerate(words):
            if (
                mode in ("broken", "stall_mid", "unfinished")
                and position == self.script.tokens_before_failure
            ):
                if mode == "broken":  # half a chunk, then the connection drops
                    handler.wfile.write(b'4f\r\ndata: {"id"')
                    handler.wfile.flush()
                    handler.close_connection = True
                    return
                if mode == "stall_mid":
                    self._stop.wait(30)
                    return
                break  # unfinished: end cleanly without a finish_reason
            if self.script.token_delay:
                time.sleep(self.script.token_delay)
            self._chunk(handler, self._delta(body, {"content": word}))
        if mode != "unfinished":
            self._chunk(handler, self._delta(body, {}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {
                    "prompt_tokens": self.script.prompt_tokens,
                    "completion_tokens": len(words),
                    "total_tokens": self.script.prompt_tokens + len(words),
                }
                self._chunk(
                    handler,
                    {
                        "id": "chatcmpl-t",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body["model"],
                        "choices": [],
                        "usage": usage,
                    },
                )
        self._raw(handler, b"data: [DONE]\n\n")
        self._raw(handler, b"", final=True)

    @staticmethod
    def _delta(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-t",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body.get("model", "m"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _chunk(self, handler: Any, payload: dict[str, Any]) -> None:
        self._raw(handler, b"data: " + json.dumps(payload).encode() + b"\n\n")

    @staticmethod
    def _raw(handler: Any, data: bytes, final: bool = False) -> None:
        if final:
            handler.wfile.write(b"0\r\n\r\n")
        else:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
