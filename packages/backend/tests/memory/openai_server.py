"""A local HTTP server speaking OpenAI's embeddings protocol (``POST /v1/embeddings``).

Vectors are deterministic bags of hashed words, so texts sharing words are similar and the same
text always gets the same vector. ``failing`` makes it answer 500; ``rejected`` refuses requests
holding given texts (400).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from tests.support.local_server import JSONHandler, LocalServer


def fake_vector(text: str, dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dimensions] += 1.0 if digest[4] % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class OpenAIEmbeddingsServer(LocalServer):
    def __init__(self, api_key: str = "sk-test-embeddings") -> None:
        self.api_key = api_key
        self.failing = False
        # Inputs containing any of these are refused with 400, as OpenAI refuses an input it cannot
        # embed (e.g. over the model's token limit): the whole request fails.
        self.rejected: set[str] = set()
        self.wrong_dimensions: int | None = None  # answer with this size whatever was asked
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                server.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if server.failing:
                    self.send_error(500)
                    return
                if self.path != "/v1/embeddings":
                    self.send_error(404)
                    return
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self.send_error(401)
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                if any(bad in text for bad in server.rejected for text in inputs):
                    self.send_json(
                        400, {"error": {"message": "Invalid input", "type": "invalid_request_error"}}
                    )
                    return
                dimensions = server.wrong_dimensions or int(body.get("dimensions") or 1536)
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_vector(text, dimensions)}
                    for i, text in enumerate(inputs)
                ]
                data.reverse()  # clients must order by "index", not by position
                self.send_json(
                    200,
                    {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1}},
                )

        super().__init__(Handler, "/v1")

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v1/embeddings"]
