"""A PostgreSQL restart under load: requests in flight answer 503 in the common error shape, later
ones succeed, and the API is not restarted. The pool has no pre-ping (a round trip per checkout);
closed connections are noticed without one."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.deps import SessionDep
from app.db.migrate import run_migrations

ME = "/api/v1/users/me"


class RestartablePostgres:
    """An embedded PostgreSQL of this test's own (restarting the suite's shared one would cut every
    other fixture's connections)."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        self._server: Any = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
        self._server.psql('CREATE DATABASE "restart";')
        self.url = f"postgresql://postgres@/restart?host={data_dir}"

    def restart(self) -> None:
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo

        server = self._server
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(
            server.pgdata
        )  # stop the new one at the end

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.cleanup()


@pytest.fixture
def postgres() -> Iterator[RestartablePostgres]:
    root = Path(tempfile.mkdtemp(prefix="dlt-"))  # short: the socket path is length-limited
    server = RestartablePostgres(root / "pg")
    try:
        run_migrations(server.url)
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_in_flight_requests_get_503_then_requests_succeed_again(
    app_factory: Any, settings_factory: Any, auth_headers: Any, postgres: RestartablePostgres
) -> None:
    # No user cache: every /users/me reads the database.
    app = await app_factory(settings_factory(database_url=postgres.url, user_cache_ttl_seconds=0))

    async def slow(session: SessionDep) -> dict[str, bool]:
        await session.execute(text("SELECT pg_sleep(5)"))
        return {"slept": True}

    app.add_api_route("/probe/slow", slow, methods=["GET"])
    headers = auth_headers("user_restart")
    answers: list[httpx.Response] = []
    running = True

    async def load(http: httpx.AsyncClient) -> None:
        while running:
            answers.append(await http.get(ME, headers=headers))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for _ in range(3):  # the pool now holds connections opened before the restart
            assert (await http.get(ME, headers=headers)).status_code == 200
        in_flight = asyncio.create_task(http.get("/probe/slow"))
        loaders = [asyncio.create_task(load(http)) for _ in range(4)]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(postgres.restart)
        await asyncio.sleep(0.3)
        running = False
        await asyncio.gather(*loaders)
        interrupted = await in_flight

        # The request whose query the restart cut: 503, the common error shape, Retry-After.
        assert interrupted.status_code == 503
        body = interrupted.json()["error"]
        assert body["code"] == "dependency_unavailable" and body["details"] == {
            "dependency": "database",
            "retry_after": 5,
        }
        assert body["request_id"] == interrupted.headers["x-request-id"]
        assert interrupted.headers["retry-after"] == "5"
        # Under load: every request either succeeded or got that 503, never a 500.
        statuses = {response.status_code for response in answers}
        assert statuses <= {200, 503}, statuses
        assert all(
            r.json()["error"]["code"] == "dependency_unavailable" for r in answers if r.status_code == 503
        )
        # And the same process serves again, reconnecting on its own.
        after = [await http.get(ME, headers=headers) for _ in range(5)]
        assert [r.status_code for r in after] == [200] * 5
        assert (await http.get("/api/v1/health/ready")).status_code == 200
