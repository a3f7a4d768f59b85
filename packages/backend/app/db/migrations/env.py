"""Alembic environment: async engine from DATABASE_URL (only that variable is needed)."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.database_url import to_async_url
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    # An explicit URL (tests, `delight migrate`) wins over the environment.
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        from dotenv import dotenv_values  # noqa: PLC0415 - only needed without the variable

        url = dotenv_values(".env").get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: point it at a live PostgreSQL database to migrate.")
    return url


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Tables created by extensions or ARQ are not ours to manage.
    return not (type_ == "table" and reflected and compare_to is None and name != "alembic_version")


def run_migrations_offline() -> None:
    context.configure(
        url=to_async_url(_database_url()).url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    db = to_async_url(_database_url())
    engine = create_async_engine(db.url, poolclass=NullPool, connect_args=db.connect_args)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
