"""Embedding providers: the local ONNX model (real) and the OpenAI protocol (a local server)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.config import ConfigError, load_settings
from app.memory.embeddings import (
    LOCAL_MODEL_SHA256,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    create_embedder,
    local_model_files,
    tuning_of,
)
from tests.memory.openai_server import OpenAIEmbeddingsServer


async def test_local_model_vectors_are_normalised_and_semantic(local_embedder: LocalEmbedder) -> None:
    texts = [
        "I feel anxious before presentations at work.",
        "Public speaking makes me nervous.",
        "My favourite dessert is lemon tart.",
    ]
    vectors = np.array(await local_embedder.embed(texts))
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.4 > similarity[0, 2]
    assert await local_embedder.embed([]) == []


async def test_local_batches_give_the_same_vectors_as_single_texts(local_embedder: LocalEmbedder) -> None:
    texts = [
        "short",
        "a considerably longer sentence that needs far more tokens than the first",
        "mid length text",
    ]
    small_batches = LocalEmbedder(batch_size=1)
    batched = np.array(await local_embedder.embed(texts))
    single = np.array(await small_batches.embed(texts))
    assert np.allclose(batched, single, atol=1e-4)  # padding and ordering change nothing


def test_the_model_file_is_pinned() -> None:
    model, tokenizer = local_model_files()
    assert model.is_file() and tokenizer.is_file()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == LOCAL_MODEL_SHA256


async def test_a_tampered_model_file_is_refused(tmp_path: Path) -> None:
    model, _ = local_model_files()
    copy = tmp_path / "model.onnx"
    shutil.copyfile(model, copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EmbeddingError, match="sha256"):
        await LocalEmbedder(model_path=copy).embed(["hello"])


async def test_openai_protocol_batches_and_orders(openai_server: OpenAIEmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(
        model_name="text-embedding-3-small",
        dimensions=384,
        api_key=openai_server.api_key,
        base_url=openai_server.url,
        batch_size=2,
    )
    try:
        texts = ["one apple", "two pears", "three plums", "four figs", "one apple"]
        vectors = await embedder.embed(texts)
    finally:
        await embedder.aclose()
    assert len(vectors) == 5 and all(len(v) == 384 for v in vectors)
    assert vectors[0] == pytest.approx(vectors[4])  # the server answers in reverse: order comes from "index"
    requests = openai_server.embedding_requests
    assert [len(r["body"]["input"]) for r in requests] == [2, 2, 1]
    assert requests[0]["body"]["model"] == "text-embedding-3-small"
    assert requests[0]["body"]["dimensions"] == 384
    assert requests[0]["auth"] == f"Bearer {openai_server.api_key}"


async def test_openai_failures_become_embedding_errors(
    openai_server: OpenAIEmbeddingsServer, unused_port: int
) -> None:
    def make(**overrides: Any) -> OpenAIEmbedder:
        options: dict[str, Any] = {
            "model_name": "m",
            "dimensions": 384,
            "api_key": openai_server.api_key,
            "base_url": openai_server.url,
            "timeout": 2.0,
        }
        options.update(overrides)
        return OpenAIEmbedder(**options)

    failing = make()
    openai_server.failing = True
    with pytest.raises(EmbeddingError, match="HTTP 500"):
        await failing.embed(["x"])
    openai_server.failing = False
    await failing.aclose()

    wrong_key = make(api_key="sk-wrong")
    with pytest.raises(EmbeddingError, match="HTTP 401"):
        await wrong_key.embed(["x"])
    await wrong_key.aclose()

    wrong_size = make()
    openai_server.wrong_dimensions = 12  # the answer would not fit the column
    with pytest.raises(EmbeddingError, match="dimensions"):
        await wrong_size.embed(["x"])
    openai_server.wrong_dimensions = None
    await wrong_size.aclose()

    down = make(base_url=f"http://127.0.0.1:{unused_port}/v1")
    with pytest.raises(EmbeddingError, match="unreachable"):
        await down.embed(["x"])
    await down.aclose()


async def test_provider_selection_and_settings_validation(settings_factory: Any) -> None:
    local = create_embedder(settings_factory())
    assert isinstance(local, LocalEmbedder)
    assert tuning_of(local).similarity_floor == local.tuning.similarity_floor
    tuned = create_embedder(settings_factory(memory_similarity_floor=0.5, memory_duplicate_threshold=0.99))
    assert (tuned.tuning.similarity_floor, tuned.tuning.duplicate_threshold) == (0.5, 0.99)
    remote = create_embedder(
        settings_factory(embedding_provider="openai", openai_api_key="sk-x", embedding_dimensions=1536)
    )
    assert isinstance(remote, OpenAIEmbedder) and remote.dimensions == 1536
    await remote.aclose()

    base = {
        "database_url": "postgresql://x@localhost/x",
        "clerk_secret_key": "sk",
        "clerk_webhook_secret": "wh",
    }
    with pytest.raises(ConfigError, match="EMBEDDING_DIMENSIONS"):
        load_settings(_env_file=None, embedding_dimensions=1536, **base)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_settings(_env_file=None, embedding_provider="openai", **base)
    with pytest.raises(ConfigError, match="EMBEDDING_PROVIDER"):
        load_settings(_env_file=None, embedding_provider="cohere", **base)
