"""Production fails closed: no API docs unless asked for, no host names or pids in the anonymous
health body, nothing of what users wrote (or local variables) sent to Sentry."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.servers import BACKEND_DIR, free_port
from tests.auth.conftest import ApiFactory
from tests.conftest import WEBHOOK_SECRET
from tests.support.local_server import JSONHandler, LocalServer
from tests.support.services import ServiceURLs

DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


@pytest.mark.parametrize(
    ("environment", "flag", "served"),
    [
        ("production", None, False),
        ("production", True, True),
        ("development", None, True),
        ("staging", None, True),
        ("development", False, False),
    ],
)
async def test_api_docs_are_off_in_production_unless_enabled(
    api: ApiFactory, environment: str, flag: bool | None, served: bool
) -> None:
    overrides: dict[str, Any] = {"environment": environment}
    if flag is not None:
        overrides["api_docs_enabled"] = flag
    client = await api(**overrides)
    for path in DOC_PATHS:
        assert (await client.get(path)).status_code == (200 if served else 404), path
    links = (await client.get("/")).json()["links"]
    assert ("openapi" in links) is served


async def test_the_health_body_names_no_host_or_process(api: ApiFactory) -> None:
    client = await api(environment="production")
    body = (await client.get("/api/v1/health")).text
    assert socket.gethostname() not in body
    assert f'"{os.getpid()}"' not in body and f":{os.getpid()}" not in body


# --- Sentry, over its real protocol, from a real server process -------------------------------------


class SentryServer(LocalServer):
    """Accepts Sentry envelopes (``POST /api/<project>/envelope/``) and keeps their raw text."""

    def __init__(self) -> None:
        self.envelopes: list[str] = []
        self.received = threading.Event()
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                server.envelopes.append(data.decode("utf-8", "replace"))
                server.received.set()
                self.send_json(200, {})

        super().__init__(Handler)


# The real app with one extra route that fails while a local variable holds what the user sent.
APP_WITH_A_FAILING_ROUTE = textwrap.dedent(
    """
    import sys, uvicorn
    from fastapi import Request
    from app.main import create_app

    app = create_app()

    @app.post("/probe/crash")
    async def crash(request: Request) -> None:
        diary_entry = (await request.json())["message"]
        raise RuntimeError("the probe failed on purpose " + str(len(diary_entry)))

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)
SECRET_TEXT = "my private diary entry about my sister"


async def test_sentry_receives_errors_without_local_variables_or_bodies(
    services: ServiceURLs, tmp_path: Path
) -> None:
    port = free_port()
    with SentryServer() as sentry:
        host = sentry.url.removeprefix("http://")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DATABASE_URL": services.database_url,
            "CLERK_SECRET_KEY": "sk_test_sentry",
            "CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ENVIRONMENT": "staging",
            "SENTRY_DSN": f"http://publickey@{host}/1",
        }
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", APP_WITH_A_FAILING_ROUTE, str(port)),
            cwd=BACKEND_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                for _ in range(300):
                    try:
                        await http.get("/api/v1/health/live")
                        break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.05)
                response = await http.post(
                    "/probe/crash?note=query+secret",
                    json={"message": SECRET_TEXT},
                    headers={"Authorization": "Bearer secret-token-value", "Cookie": "session=abc"},
                )
            assert response.status_code == 500
            assert await asyncio.to_thread(sentry.received.wait, 15), "no event reached Sentry"
            await asyncio.sleep(0.5)  # any second envelope of the same error
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)
    raw = "\n".join(sentry.envelopes)
    assert "the probe failed on purpose" in raw  # the error itself is reported...
    assert "RuntimeError" in raw
    for leaked in (SECRET_TEXT, "secret-token-value", "session=abc", "query secret", "query+secret"):
        assert leaked not in raw, leaked  # ...but nothing the user sent
    for line in raw.splitlines():
        item = json.loads(line) if line.startswith("{") else {}
        for exception in (item.get("exception") or {}).get("values") or []:
            for frame in (exception.get("stacktrace") or {}).get("frames") or []:
                assert "vars" not in frame  # no local variables at all
