"""Nudges and notifications (docs/nudges.md): activity, the drop-off sequence and daily notes,
the outbox and its channels, the notification centre and one-click unsubscribe.

Layout: ``rules.py`` (when a note may go: pure), ``planner.py`` (what to write for one user: pure),
``content.py`` (wording, the banned list, the model's rewrite), ``channels.py`` (providers),
``sweep.py`` (plan and deliver in batches), ``activity.py`` (the shared hook), ``tokens.py``
(unsubscribe links), ``repository.py`` (every query), ``service.py``/``router.py``/``schemas.py``
(the API), ``tasks.py`` (the job), ``data.py`` (export, the DCI's count).
"""

from app.nudges import data as _data  # noqa: F401 - registers the export section and the DCI source
from app.nudges.activity import RecordsActivity
from app.nudges.router import public_router, router
from app.nudges.sweep import SweepReport, run_sweep
from app.nudges.tasks import JOBS
from app.nudges.tokens import unsubscribe_url

__all__ = [
    "JOBS",
    "RecordsActivity",
    "SweepReport",
    "public_router",
    "router",
    "run_sweep",
    "unsubscribe_url",
]
