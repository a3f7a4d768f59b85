"""Apply the Alembic migrations from code (``delight migrate``, ``delight dev``, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2]


def run_migrations(database_url: str, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` against ``database_url`` with the project's alembic.ini."""
    from alembic import command  # noqa: PLC0415 - alembic is only needed when migrating
    from alembic.config import Config  # noqa: PLC0415

    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, revision)
