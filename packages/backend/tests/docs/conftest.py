"""The server the walk-throughs talk to: ``./scripts/delight dev`` itself (the command behind
``./scripts/dev``), on a free port, on the test session's PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.devtools.devkeys import ensure_key_pair
from tests.docs.walkthrough import ROOT
from tests.support.services import ServiceURLs

STARTUP_SECONDS = 90


@dataclass(frozen=True)
class DevServer:
    base: str  # http://127.0.0.1:<port>
    env: dict[str, str]  # what the server got; the walk-throughs' shell gets the same
    log: Path

    def banner(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def walkthrough_env(services: ServiceURLs, data_dir: Path) -> dict[str, str]:
    """This process's environment without any of the service's settings, plus what ``delight dev``
    would find on a developer's machine: the URLs of running services and a data folder (its
    development key pair signs the walk-throughs' tokens). ``delight dev`` still reads a developer's
    packages/backend/.env; what would change the answers is pinned here (real variables win, and
    an empty one would not: it counts as unset), the model path to offline as on a fresh clone."""
    names = {name.upper() for name in Settings.model_fields} | {"DELIGHT_DATA_DIR"}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        DELIGHT_DATA_DIR=str(data_dir),
        CLERK_JWT_KEY=ensure_key_pair(data_dir)[1],
        ENVIRONMENT="development",
        COMPANION_PROVIDER="offline",
        EMBEDDING_PROVIDER="local",
        LOG_LEVEL="WARNING",
        # The suite empties the tables after every test, behind this long-lived server's back: a
        # cached user would outlive its row (the cache only hears about changes the app makes).
        USER_CACHE_TTL_SECONDS="0",
    )
    # ./scripts/* find uv on PATH or through $UV; `uv run pytest` sets UV, a plain pytest may not.
    uv = shutil.which("uv", path=env.get("PATH"))
    if uv and "UV" not in env:
        env["UV"] = uv
    return env


@contextlib.contextmanager
def dev_server(env: dict[str, str], log: Path) -> Iterator[DevServer]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(ROOT / "scripts" / "delight"), "dev", "--no-reload", "--no-worker", "--port", str(port)]
    with log.open("wb") as out:
        # Its own process group, so that stopping it also stops what uv started under it.
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"./scripts/delight dev exited ({process.returncode}):\n{log.read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/api/v1/health/live", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"./scripts/delight dev did not answer in {STARTUP_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.2)
        yield DevServer(base, env, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def server(services: ServiceURLs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    folder = tmp_path_factory.mktemp("walkthroughs")
    env = walkthrough_env(services, folder / "delight-data")
    with dev_server(env, folder / "dev-server.log") as running:
        yield running


def curl_on_path(folder: Path, env: dict[str, str], log: Path) -> dict[str, str]:
    """``env`` with the recording curl first on PATH (see curl_recorder.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "curl"
    recorder = Path(__file__).with_name("curl_recorder.py")
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{recorder}" "$@"\n')
    shim.chmod(0o755)
    real = shutil.which("curl", path=env.get("PATH")) or ""
    if os.environ.get("DOCS_TEST_CURL") == "httpx":  # to exercise the stand-in on a machine with curl
        real = ""
    return {
        **env,
        "PATH": f"{folder}{os.pathsep}{env.get('PATH', '')}",
        "DOCS_CURL_LOG": str(log),
        "DOCS_REAL_CURL": real,
    }


def banner_exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*export (\w+)=(\S+)$", text, re.MULTILINE))
