"""Engine and session factories; created in the lifespan (or worker start-up), never at import.

Two factories share one pool:

- ``sessions``: a transaction (BEGIN … COMMIT), for anything that writes;
- ``read_sessions``: autocommit, for safe requests (GET/HEAD): no BEGIN/COMMIT round trips, each
  statement sees the latest committed data (as it would under READ COMMITTED in a transaction).

No ``pool_pre_ping``: it costs a round trip per checkout. A connection the server closed (e.g. a
PostgreSQL restart) is noticed without one: asyncpg sees the socket close, and the checkout hook
below swaps such a connection for a new one. A connection that breaks while in use fails its
request with 503 and, being a disconnect, invalidates every older pooled connection, so the next
requests connect afresh.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from app.core import metrics
from app.core.config import Settings


class MeteredPool(AsyncAdaptedQueuePool):
    """The async queue pool, counting checkouts that had to wait for a connection (pool exhausted)."""

    def _do_get(self) -> ConnectionPoolEntry:
        if self._max_overflow < 0 or self.checkedout() < self.size() + self._max_overflow:
            return super()._do_get()
        started = time.perf_counter()
        try:
            return super()._do_get()
        except exc.TimeoutError:
            metrics.DB_POOL_TIMEOUTS.inc()
            raise
        finally:
            metrics.DB_POOL_WAIT.observe(time.perf_counter() - started)


def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout hook: a connection whose socket the server closed is replaced, without a round trip."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        # The pool discards this connection and checks out (or opens) another one.
        raise exc.DisconnectionError("connection closed by the server")


def create_engine(settings: Settings) -> AsyncEngine:
    db = settings.async_database
    connect_args = dict(db.connect_args)
    # A dead or unreachable server must fail a request quickly, not hang it.
    connect_args.setdefault("timeout", settings.health_timeout_seconds * 2)
    engine = create_async_engine(
        db.url,
        poolclass=MeteredPool,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "checkout", _replace_closed)
    metrics.watch_pool(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions without a transaction: each statement commits on its own (no BEGIN/COMMIT)."""
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(autocommit, expire_on_commit=False, autoflush=False)


async def release(session: AsyncSession) -> None:
    """End the session's transaction (committing what it did so far) so that its connection goes
    back to the pool before the caller waits on something outside the process (a model, an
    embedding provider). Objects it loaded stay usable; the next statement starts a new one."""
    await session.commit()


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached (restart, network, exhausted pool),
    rather than a bug or a rejected statement: such requests answer 503."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection within the pool timeout
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        # SQLAlchemy's asyncpg layer wraps the driver's error; look at both.
        return any(
            _driver_unavailable(cause) for cause in (error.orig, getattr(error.orig, "__cause__", None))
        )
    return isinstance(error, OSError | TimeoutError)  # e.g. a refused connection, not wrapped


def is_transient_conflict(error: BaseException) -> bool:
    """Whether PostgreSQL aborted the statement to resolve a conflict with another transaction
    (a deadlock, a serialization failure): nothing is wrong with the request, and the same request
    later succeeds, so it answers 503 with Retry-After rather than 500."""
    if not isinstance(error, exc.DBAPIError):
        return False
    for cause in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if code in _CONFLICT_SQLSTATES:
            return True
    return False


def _driver_unavailable(error: BaseException | None) -> bool:
    if error is None:
        return False
    if isinstance(error, OSError | TimeoutError):
        return True
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(code, str) and (code.startswith("08") or code in _UNAVAILABLE_SQLSTATES):
        return True
    return type(error).__name__ in _UNAVAILABLE_DRIVER_ERRORS


# SQLSTATEs of a server going away or refusing connections: admin/crash shutdown, starting up or
# shutting down, too many connections (class 08, connection exceptions, is matched as a whole).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# deadlock_detected, serialization_failure: PostgreSQL chose this transaction to abort.
_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})
# asyncpg's own errors for a connection that is gone.
_UNAVAILABLE_DRIVER_ERRORS = frozenset({"ConnectionDoesNotExistError", "ConnectionFailureError"})
