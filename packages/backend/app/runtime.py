"""The composition root: builds a process's ``Resources`` (API lifespan, worker start-up, CLI).

Core defines what the resources are; the memory domain provides the embedder. Only entry points
import this module, so core never depends on a domain.
"""

from __future__ import annotations

from app.core.config import Settings
from app.core.resources import Resources
from app.core.resources import create_resources as _create
from app.memory import create_embedder


def create_resources(settings: Settings) -> Resources:
    """Every process-wide resource for ``settings``; lazy: nothing connects or loads here."""
    return _create(settings, embedder=create_embedder(settings))
