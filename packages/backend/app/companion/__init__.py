"""Eliza, the companion (docs/companion.md), in three layers over shared storage:

- ``api/``: transport — the chat and stream routes, starting a reply, running it in the process;
- ``reply/``: the reply pipeline — the LangGraph turn, behaviour rules, prompt, offline responder;
- ``formation/``: memory formation after a reply, in the worker;
- ``language/``: understanding the user's words (emotion, restorative activities, text helpers),
  shared by ``reply`` and ``formation``;
- ``repository.py`` (every query), ``stream.py`` (the Redis reply stream), ``schemas.py``,
  ``data.py`` (export and erasure).

Layers import downwards only: api → reply → formation → language.
"""

from app.companion import data as _data  # noqa: F401 - registers the export sections and erase hook
from app.companion.api.router import router, sse_router
from app.companion.formation import JOBS
from app.companion.language.text import second_person

__all__ = ["JOBS", "router", "second_person", "sse_router"]
