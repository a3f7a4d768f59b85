"""The recall score: bounded in [0, 1], every term documented in docs/memory.md.

    score = 0.80·similarity + 0.05·lexical + 0.10·recency + 0.05·frequency

- similarity: cosine similarity of query and memory embeddings, clamped to [0, 1] (0 when either
  has no embedding yet);
- lexical: the share of the query's search terms (English stems, stop words dropped) that occur
  in the memory;
- recency: 2^(−days since last access / half-life of the tier);
- frequency: log(1 + access_count) / log(1 + 20), capped at 1 (saturates at 20 accesses).

The weights sum to 1 and every term lies in [0, 1], so the score does too; nothing divides by a
quantity that can be zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from app.kit.numbers import clamp
from app.models import MemoryTier

WEIGHTS: dict[str, float] = {"similarity": 0.80, "lexical": 0.05, "recency": 0.10, "frequency": 0.05}
HALF_LIFE_DAYS: dict[MemoryTier, float] = {
    MemoryTier.personal: 180.0,
    MemoryTier.project: 30.0,
    MemoryTier.task: 7.0,
}
FREQUENCY_SATURATION = 20
# A memory sharing at least this share of the query's terms is kept below the similarity floor:
# names and rare words must not be lost to a weak embedding match.
LEXICAL_FLOOR = 0.5


def recency(accessed_at: datetime, now: datetime, tier: MemoryTier) -> float:
    days = max((now - accessed_at).total_seconds(), 0.0) / 86400.0
    return clamp(math.pow(2.0, -days / HALF_LIFE_DAYS[tier]))


def frequency(access_count: int) -> float:
    return clamp(math.log1p(max(access_count, 0)) / math.log1p(FREQUENCY_SATURATION))


def lexical(query_lexemes: Sequence[str], memory_lexemes: Sequence[str]) -> float:
    terms = set(query_lexemes)
    if not terms:
        return 0.0
    return len(terms & set(memory_lexemes)) / len(terms)


def combine(
    similarity: float | None, lexical_score: float, recency_score: float, frequency_score: float
) -> float:
    parts = {
        "similarity": clamp(similarity or 0.0),
        "lexical": clamp(lexical_score),
        "recency": clamp(recency_score),
        "frequency": clamp(frequency_score),
    }
    return clamp(sum(WEIGHTS[name] * value for name, value in parts.items()))


def passes_floor(similarity: float | None, lexical_score: float, floor: float) -> bool:
    return (similarity is not None and similarity >= floor) or lexical_score >= LEXICAL_FLOOR
