"""Migrations: reversible from head to base on a fresh database, and in step with the models."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.database_url import to_async_url
from app.db.migrate import BACKEND_DIR, run_migrations
from app.models import Base
from tests.support.services import ServiceURLs


def alembic_config(database_url: str) -> Config:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


@pytest.fixture
async def fresh_database(engine: AsyncEngine, services: ServiceURLs) -> AsyncIterator[str]:
    """An empty database on the test server, dropped afterwards; yields its libpq-style URL."""
    name = f"delight_migrations_{uuid.uuid4().hex[:12]}"
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(services.database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    async with autocommit.connect() as connection:
        await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def tables_and_revision(database_url: str) -> tuple[set[str], str | None]:
    db = to_async_url(database_url)
    engine = create_async_engine(db.url, connect_args=db.connect_args)
    try:
        async with engine.connect() as connection:

            def read(sync: Connection) -> tuple[set[str], str | None]:
                tables = set(inspect(sync).get_table_names())
                return tables, MigrationContext.configure(sync).get_current_revision()

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def differences(database_url: str, metadata: MetaData) -> list[Any]:
    """What ``alembic check`` would report: the models compared with the migrated schema."""
    db = to_async_url(database_url)
    engine = create_async_engine(db.url, connect_args=db.connect_args)
    try:
        async with engine.connect() as connection:

            def compare(sync: Connection) -> list[Any]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return compare_metadata(context, metadata)

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://unused/x")).get_current_head()
    assert head is not None
    return head


async def test_upgrade_downgrade_upgrade_on_a_fresh_database(fresh_database: str) -> None:
    model_tables = {table.name for table in Base.metadata.sorted_tables}
    config = alembic_config(fresh_database)

    # Alembic's env.py runs its own event loop, so migrations run in a worker thread.
    await asyncio.to_thread(run_migrations, fresh_database, "head")
    tables, revision = await tables_and_revision(fresh_database)
    assert model_tables <= tables
    assert revision == head_revision()

    await asyncio.to_thread(command.downgrade, config, "base")
    tables, revision = await tables_and_revision(fresh_database)
    assert tables & model_tables == set()
    assert revision is None

    await asyncio.to_thread(command.upgrade, config, "head")
    tables, revision = await tables_and_revision(fresh_database)
    assert model_tables <= tables
    assert revision == head_revision()


async def test_every_migration_steps_down_and_up_one_at_a_time(fresh_database: str) -> None:
    config = alembic_config(fresh_database)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions("base", "heads"))
    await asyncio.to_thread(run_migrations, fresh_database, "head")
    for _ in revisions:
        await asyncio.to_thread(command.downgrade, config, "-1")
    assert (await tables_and_revision(fresh_database))[1] is None
    for revision in reversed(revisions):
        await asyncio.to_thread(command.upgrade, config, "+1")
        assert (await tables_and_revision(fresh_database))[1] == revision.revision


async def test_models_and_migrations_do_not_drift(fresh_database: str) -> None:
    await asyncio.to_thread(run_migrations, fresh_database, "head")
    assert await differences(fresh_database, Base.metadata) == []
    # The same check through the project's alembic env.py, exactly as `alembic check` runs it.
    await asyncio.to_thread(command.check, alembic_config(fresh_database))


async def test_the_drift_check_sees_a_model_without_a_migration(fresh_database: str) -> None:
    await asyncio.to_thread(run_migrations, fresh_database, "head")
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    Table("not_migrated", drifted, Column("id", Integer, primary_key=True))
    found = await differences(fresh_database, drifted)
    added = [diff[1].name for diff in found if isinstance(diff, tuple) and diff[0] == "add_table"]
    assert added == ["not_migrated"]


def test_there_is_a_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("postgresql://unused/x")).get_heads()
    assert len(heads) == 1, f"migration branches must be merged: heads {heads}"


def run_delight(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    delight = Path(sys.executable).with_name("delight")
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(delight), *args],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_delight_migrate_reads_database_url_from_dotenv(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={fresh_database}\n")
    result = await asyncio.to_thread(run_delight, ["migrate"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert "database migrated to head" in result.stdout
    assert (await tables_and_revision(fresh_database))[1] == head_revision()


def test_delight_migrate_without_database_url_says_so(tmp_path: Path) -> None:
    result = run_delight(["migrate"], tmp_path, {})
    assert result.returncode == 78
    assert result.stderr.strip() == "DATABASE_URL is not set."
