"""A real uvicorn server of the app in a subprocess, for benchmarks that measure over HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BACKEND_DIR = Path(__file__).resolve().parents[1]
READY_PATH = "/api/v1/health/live"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def uvicorn_server(
    env: dict[str, str], log_path: Path, *extra_args: str, stop_timeout: float = 15
) -> Iterator[tuple[str, int]]:
    """Run ``uvicorn main:app`` (one worker, no access log) configured only by ``env``; yields
    ``(base_url, pid)`` once it answers, and stops it afterwards."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        *extra_args,
    ]
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
                    if httpx.get(url + READY_PATH, timeout=1).status_code == 200:
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
