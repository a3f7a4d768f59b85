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
    "target_session_attrs",
    "prepared_statement_cache_size",
}
# Seconds; SQLAlchemy passes query values to asyncpg as strings, which asyncpg cannot add to a float,
# so these travel as connect_args (which also lets them win over the engine's default timeout).
_SECONDS = {"connect_timeout": "timeout", "timeout": "timeout", "command_timeout": "command_timeout"}


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
    connect_args: dict[str, Any] = {}
    server_settings: dict[str, str] = {}
    rejected: list[str] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            if value not in _SSL_MODES:
                raise DatabaseURLError(
                    f"DATABASE_URL sslmode={value!r} is not a libpq SSL mode "
                    f"(use one of: {', '.join(sorted(_SSL_MODES))})"
                )
            query.append(("ssl", value))
        elif key in _SECONDS:
            connect_args[_SECONDS[key]] = _seconds(key, value)
        elif key == "application_name":
            server_settings["application_name"] = value
        elif key == "options":
            server_settings.update(_server_options(value))
        elif key == "channel_binding" and value in {"disable", "prefer"}:
            continue  # asyncpg negotiates SCRAM itself; "prefer" is libpq's default anyway
        elif key in _PASSTHROUGH:
            query.append((key, value))
        else:
            rejected.append(key)  # names only: a value could be a password
    if rejected:
        raise DatabaseURLError(
            "DATABASE_URL has libpq options the asyncpg driver does not support: "
            + ", ".join(rejected)
            + " (remove them; supported: sslmode, connect_timeout, application_name, options=-c name=value,"
            " host, port, target_session_attrs, command_timeout, prepared_statement_cache_size)"
        )
    url = urlunsplit((ASYNC_SCHEME, parts.netloc, parts.path, urlencode(query), parts.fragment))
    if server_settings:
        connect_args["server_settings"] = server_settings
    return AsyncDatabaseURL(url=url, connect_args=connect_args)


def _seconds(key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise DatabaseURLError(f"DATABASE_URL {key}={value!r} must be a positive number of seconds")
    return seconds


def _server_options(value: str) -> dict[str, str]:
    """libpq ``options`` (``-c name=value`` or ``--name=value`` pairs) as asyncpg server settings."""
    settings: dict[str, str] = {}
    words = value.split()
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-c" and index + 1 < len(words):
            pair = words[index + 1]
            index += 2
        elif (word.startswith("-c") and len(word) > 2) or word.startswith("--"):
            pair = word[2:]  # "-cname=value" or "--name=value"
            index += 1
        else:
            pair = ""
        name, sep, setting = pair.partition("=")
        if not sep or not name:
            raise DatabaseURLError(
                f"DATABASE_URL options={value!r} is not supported: only '-c name=value' settings are"
            )
        settings[name.replace("-", "_")] = setting
    return settings
