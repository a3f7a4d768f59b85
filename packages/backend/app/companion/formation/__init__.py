"""Memory formation: after each reply, the exchange and the facts the user stated become memories
(in the worker, per user in order)."""

from app.companion.formation.service import companion_form_memories, companion_sweep, form_job_id

JOBS = (companion_form_memories, companion_sweep)

__all__ = ["JOBS", "companion_form_memories", "companion_sweep", "form_job_id"]
