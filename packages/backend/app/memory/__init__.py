"""Companion memory: three tiers on pgvector, offline embeddings, hybrid recall, pruning
(docs/memory.md). What other domains may use is exported here."""

from app.memory import data as _export  # noqa: F401 - registers the export section
from app.memory.embeddings import create_embedder
from app.memory.highlights import CaredAbout, cared_about
from app.memory.maintenance import count_to_reembed, reembed
from app.memory.pgvector import detect_at_startup as detect_pgvector
from app.memory.router import router
from app.memory.service import (
    Embedding,
    RecalledMemory,
    RememberResult,
    archive_goal_memories,
    embed_texts,
    recall_for_companion,
    remember,
    restore_goal_memories,
    update_memory,
)
from app.memory.tasks import JOBS

__all__ = [
    "JOBS",
    "CaredAbout",
    "Embedding",
    "RecalledMemory",
    "RememberResult",
    "archive_goal_memories",
    "cared_about",
    "count_to_reembed",
    "create_embedder",
    "detect_pgvector",
    "embed_texts",
    "recall_for_companion",
    "reembed",
    "remember",
    "restore_goal_memories",
    "router",
    "update_memory",
]
