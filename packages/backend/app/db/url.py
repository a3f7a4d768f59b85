"""Turn a libpq-style ``DATABASE_URL`` into what SQLAlchemy's asyncpg dialect accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ASYNC_SCHEME = "postgresql+asyncpg"
_POSTGRES_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# Options asyncpg understands as connect() keyword arguments and that SQLAlchemy passes through.
_PASSTHROUGH = {
    "host",
    "port",
    "ssl",
    "timeout",
    "command_timeout",
    "target_session_attrs",
    "prepared_statement_cache_size",
}


class DatabaseURLError(ValueError):
    """DATABASE_URL cannot be used with asyncpg; the message says how to fix it."""


@dataclass(frozen=True)
class AsyncDatabaseURL:
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)


def to_async_url(raw: str) -> AsyncDatabaseURL:
    """Rewrite ``postgres://``/``postgresql://`` to asyncpg and translate libpq query options.

    ``sslmode`` becomes asyncpg's ``ssl``, ``connect_timeout`` becomes ``timeout`` and
    ``application_name``/``options`` become server settings; anything asyncpg cannot honour is
    rejected here, at start-up, instead of failing on the first query.
    """
    parts = urlsplit(raw.strip())
    if parts.scheme not in _POSTGRES_SCHEMES:
        raise DatabaseURLError(
            f"DATABASE_URL must start with postgresql:// or postgres:// (got scheme {parts.scheme!r})"
        )
    query: list[tuple[str, str]] = []
    server_settings: dict[str, str] = {}
    rejected: list[str] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            if value not in _SSL_MODES:
                raise DatabaseURLError(f"DATABASE_URL sslmode={value!r} is not a libpq SSL mode")
            query.append(("ssl", value))
        elif key == "connect_timeout":
            query.append(("timeout", value))
        elif key == "application_name":
            server_settings["application_name"] = value
        elif key == "channel_binding" and value in {"disable", "prefer"}:
            continue  # asyncpg negotiates SCRAM itself; "prefer" is libpq's default anyway
        elif key in _PASSTHROUGH:
            query.append((key, value))
        else:
            rejected.append(f"{key}={value}")
    if rejected:
        raise DatabaseURLError(
            "DATABASE_URL has libpq options the asyncpg driver does not support: "
            + ", ".join(rejected)
            + " (remove them; supported: sslmode, connect_timeout, application_name, host, port)"
        )
    url = urlunsplit((ASYNC_SCHEME, parts.netloc, parts.path, urlencode(query), parts.fragment))
    connect_args: dict[str, Any] = {"server_settings": server_settings} if server_settings else {}
    return AsyncDatabaseURL(url=url, connect_args=connect_args)
