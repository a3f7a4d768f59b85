"""What every embedding provider offers (the implementations live in ``app.memory.embeddings``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class EmbeddingError(Exception):
    """The provider could not embed (down, timed out, answered garbage, model missing)."""


@runtime_checkable
class Embedder(Protocol):
    model_name: str
    dimensions: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...  # raises EmbeddingError

    async def aclose(self) -> None: ...
