"""Sentences of a memory, embedded one by one next to the whole text.

People write to a companion in paragraphs that mix topics ("Long day. Ricardo was grumpy. Also, my
sister is moving to Lyon!"): one embedding of the whole message averages the topics and matches
none of them well. A memory of two or more sentences therefore also stores one embedding per
sentence (``memories.sentence_embeddings``), and its similarity to a query is the better of the
whole text's and its best sentence's (docs/memory.md, "Dense candidates").
"""

from __future__ import annotations

import re

from app.core.embedding import Embedder

MAX_SENTENCES = 8
MIN_WORDS = 3  # shorter pieces ("Thanks!", "Okay.") join their neighbour
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[\"'“(\[]?[A-Z0-9À-Ý])|\n+")


def split(text: str) -> list[str]:
    """The sentences worth embedding on their own: empty when the text is a single sentence."""
    pieces = [p.strip() for p in _BOUNDARY.split(text) if p and p.strip()]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and min(len(piece.split()), len(sentences[-1].split())) < MIN_WORDS:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    if len(sentences) > MAX_SENTENCES:  # the tail joins the last one kept
        sentences = [*sentences[: MAX_SENTENCES - 1], " ".join(sentences[MAX_SENTENCES - 1 :])]
    return sentences if len(sentences) > 1 else []


def to_literal(vectors: list[list[float]]) -> str:
    """A ``vector[]`` literal (PostgreSQL array of pgvector's text form): '{}' for none."""
    return "{" + ",".join('"[' + ",".join(f"{x:.7g}" for x in v) + ']"' for v in vectors) + "}"


async def embed_with_sentences(embedder: Embedder, texts: list[str]) -> list[tuple[list[float], str]]:
    """Each text's embedding and its sentence embeddings (a ``vector[]`` literal), in one provider
    call (the local model batches the short sentences apart from the long texts). Raises
    ``EmbeddingError``."""
    parts = [split(t) for t in texts]
    flat = [piece for text, pieces in zip(texts, parts, strict=True) for piece in (text, *pieces)]
    vectors = await embedder.embed(flat)
    out: list[tuple[list[float], str]] = []
    at = 0
    for pieces in parts:
        out.append((vectors[at], to_literal(vectors[at + 1 : at + 1 + len(pieces)])))
        at += 1 + len(pieces)
    return out
