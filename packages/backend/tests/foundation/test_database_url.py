"""libpq-style DATABASE_URLs become asyncpg URLs, or are refused with a message saying why."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database_url import DatabaseURLError, to_async_url
from tests.support.services import ServiceURLs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db:5432/delight", "postgresql+asyncpg://u:p@db:5432/delight"),
        ("postgresql://u:p@db:5432/delight", "postgresql+asyncpg://u:p@db:5432/delight"),
        ("postgresql+asyncpg://u:p@db/delight", "postgresql+asyncpg://u:p@db/delight"),
        ("postgresql+psycopg2://u@db/delight", "postgresql+asyncpg://u@db/delight"),
        ("  postgresql://u@db/delight\n", "postgresql+asyncpg://u@db/delight"),
    ],
)
def test_scheme_is_rewritten_to_asyncpg(raw: str, expected: str) -> None:
    converted = to_async_url(raw)
    assert converted.url == expected
    assert converted.connect_args == {}


def test_sslmode_becomes_ssl() -> None:
    converted = to_async_url("postgresql://u@db/delight?sslmode=require")
    assert converted.url == "postgresql+asyncpg://u@db/delight?ssl=require"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
def test_every_libpq_ssl_mode_is_accepted(mode: str) -> None:
    assert to_async_url(f"postgres://u@db/delight?sslmode={mode}").url.endswith(f"?ssl={mode}")


def test_connect_timeout_becomes_a_numeric_timeout() -> None:
    converted = to_async_url("postgresql://u@db/delight?connect_timeout=10")
    assert converted.url == "postgresql+asyncpg://u@db/delight"
    # A number, not the query string's text: asyncpg adds it to a float.
    assert converted.connect_args == {"timeout": 10.0}


def test_application_name_and_options_become_server_settings() -> None:
    converted = to_async_url(
        "postgresql://u@db/delight?application_name=delight-api"
        "&options=-c%20statement_timeout%3D5000%20-c%20search_path%3Dpublic"
    )
    assert converted.url == "postgresql+asyncpg://u@db/delight"
    assert converted.connect_args == {
        "server_settings": {
            "application_name": "delight-api",
            "statement_timeout": "5000",
            "search_path": "public",
        }
    }


def test_host_and_port_options_pass_through() -> None:
    converted = to_async_url("postgresql://postgres@/delight?host=/run/delight-pg&port=5433&sslmode=disable")
    assert dict(parse_qsl(urlsplit(converted.url).query)) == {
        "host": "/run/delight-pg",
        "port": "5433",
        "ssl": "disable",
    }


def test_bad_sslmode_is_rejected_clearly() -> None:
    with pytest.raises(DatabaseURLError) as caught:
        to_async_url("postgresql://u@db/delight?sslmode=always")
    message = str(caught.value)
    assert "sslmode='always' is not a libpq SSL mode" in message
    assert "verify-full" in message


def test_unsupported_options_are_rejected_by_name_without_their_values() -> None:
    with pytest.raises(DatabaseURLError) as caught:
        to_async_url("postgresql://u@db/delight?sslrootcert=/etc/ca.pem&password=hunter2&sslmode=require")
    message = str(caught.value)
    assert "does not support: sslrootcert, password" in message
    assert "supported: sslmode, connect_timeout, application_name" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_timeout_that_is_not_a_positive_number_is_rejected(value: str) -> None:
    with pytest.raises(DatabaseURLError, match=f"connect_timeout='{value}' must be a positive number"):
        to_async_url(f"postgresql://u@db/delight?connect_timeout={value}")


def test_options_other_than_server_settings_are_rejected() -> None:
    with pytest.raises(DatabaseURLError, match="only '-c name=value' settings"):
        to_async_url("postgresql://u@db/delight?options=endpoint%3Dep-cool-123")


@pytest.mark.parametrize("raw", ["mysql://u@db/delight", "sqlite:///delight.db", "db.internal:5432/delight"])
def test_other_databases_are_rejected(raw: str) -> None:
    with pytest.raises(DatabaseURLError, match="must start with postgresql:// or postgres://"):
        to_async_url(raw)


def _with_query(url: str, **options: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *options.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_rewritten_libpq_url_really_connects(services: ServiceURLs) -> None:
    raw = _with_query(
        services.database_url,
        sslmode="disable",
        application_name="delight-url-test",
        connect_timeout="5",
        options="-c statement_timeout=4321",
    )
    assert raw.startswith(("postgresql://", "postgres://"))
    converted = to_async_url(raw)
    engine = create_async_engine(converted.url, connect_args=converted.connect_args)
    try:
        async with engine.connect() as connection:
            name = await connection.scalar(text("SHOW application_name"))
            statement_timeout = await connection.scalar(text("SHOW statement_timeout"))
            ssl = await connection.scalar(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await engine.dispose()
    assert name == "delight-url-test"
    assert statement_timeout == "4321ms"
    assert ssl is False
