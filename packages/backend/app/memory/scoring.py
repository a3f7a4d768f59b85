"""The recall score: bounded in [0, 1], every term documented in docs/memory.md.

Two candidate generators rank a user's memories for a query, each on its own: the **dense** one by
cosine similarity of embeddings, the **lexical** one by BM25 over PostgreSQL full text (see
``repository``). Their rankings are fused into a relevance in [0, 1]:

- ``rrf`` (default): reciprocal rank fusion, 1 / (k + dense rank) + coverage³ / (k + lexical
  rank), k = 60, divided by its largest possible value (first in both, full coverage): a memory
  first in one ranking and absent from the other scores 0.5. Ranks, not raw scores, so no
  calibration between cosine and BM25 is needed; coverage (the share of the query's idf-weighted
  terms the memory contains) keeps incidental one-word matches from outranking close paraphrases;
- ``blend``: 0.5 x the cosine rescaled from [floor, 1] to [0, 1] + 0.5 x the BM25 score relative to
  the best lexical match of the query (kept to be measured against rrf; see docs/memory.md).

Then, as tie-breakers (they can reorder memories of close relevance, never lift an unrelated one
over a clearly relevant one):

    score = 0.94·relevance + 0.04·recency + 0.02·frequency
    recency   = 2^(−days since last access / half-life of the tier)   (180 / 30 / 7 days)
    frequency = min(1, ln(1 + access_count) / ln(21))                 (saturates at 20 accesses)

Every term lies in [0, 1] and the weights sum to 1, so the score does too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from app.kit.numbers import clamp
from app.models import MemoryTier

Fusion = Literal["rrf", "blend"]
WEIGHTS: dict[str, float] = {"relevance": 0.94, "recency": 0.04, "frequency": 0.02}
RRF_K = 60
# Each ranking's weight in the fusion (the same: neither generator is trusted more).
RRF_WEIGHTS: dict[str, float] = {"dense": 1.0, "lexical": 1.0}
BLEND_DENSE = 0.5
# A lexical rank counts in proportion to coverage³, the share of the query's (idf-weighted) terms
# the memory contains: matching one common word of a paraphrase ("night", "day") earns little, a
# name with the rest of the question nearly all (calibrated on the tuning parts, docs/memory.md).
COVERAGE_POWER = 3.0
HALF_LIFE_DAYS: dict[MemoryTier, float] = {
    MemoryTier.personal: 180.0,
    MemoryTier.project: 30.0,
    MemoryTier.task: 7.0,
}
FREQUENCY_SATURATION = 20
# A memory containing at least this share of the query's (weighted) terms is kept below the
# similarity floor: names and rare words must not be lost to a weak embedding match.
LEXICAL_FLOOR = 0.5


def recency(accessed_at: datetime, now: datetime, tier: MemoryTier) -> float:
    days = max((now - accessed_at).total_seconds(), 0.0) / 86400.0
    return clamp(math.pow(2.0, -days / HALF_LIFE_DAYS[tier]))


def frequency(access_count: int) -> float:
    return clamp(math.log1p(max(access_count, 0)) / math.log1p(FREQUENCY_SATURATION))


@dataclass(frozen=True)
class Signals:
    """What the two generators say about one candidate (``None``: not in that ranking)."""

    similarity: float | None  # cosine with the query (None without embeddings)
    dense_rank: int | None
    bm25: float  # 0 when no query term occurs in the memory
    lexical_rank: int | None
    coverage: float  # share of the query's (idf-weighted) terms found in the memory


def rrf(signals: Signals) -> float:
    best = sum(w / (RRF_K + 1) for w in RRF_WEIGHTS.values())
    total = 0.0
    if signals.dense_rank is not None:
        total += RRF_WEIGHTS["dense"] / (RRF_K + signals.dense_rank)
    if signals.lexical_rank is not None:
        share = clamp(signals.coverage) ** COVERAGE_POWER
        total += RRF_WEIGHTS["lexical"] * share / (RRF_K + signals.lexical_rank)
    return clamp(total / best)


def blend(signals: Signals, best_bm25: float, floor: float) -> float:
    dense = clamp(((signals.similarity or 0.0) - floor) / (1 - floor)) if floor < 1 else 0.0
    lexical = clamp(signals.bm25 / best_bm25) if best_bm25 > 0 else 0.0
    return clamp(BLEND_DENSE * dense + (1 - BLEND_DENSE) * lexical)


def relevance(signals: Signals, fusion: Fusion, best_bm25: float, floor: float) -> float:
    return rrf(signals) if fusion == "rrf" else blend(signals, best_bm25, floor)


def combine(relevance_score: float, recency_score: float, frequency_score: float) -> float:
    parts = {
        "relevance": clamp(relevance_score),
        "recency": clamp(recency_score),
        "frequency": clamp(frequency_score),
    }
    return clamp(sum(WEIGHTS[name] * value for name, value in parts.items()))


def passes_floor(similarity: float | None, coverage: float, floor: float) -> bool:
    """Keep a candidate that is semantically close enough, or lexically (most of the query's terms)."""
    return (similarity is not None and similarity >= floor) or coverage >= LEXICAL_FLOOR
