"""``curl`` on the walk-throughs' PATH: runs the real curl with the doc's arguments, passes its output
through, and appends what the call got (status, Content-Type, body) to ``$DOCS_CURL_LOG``, one JSON
line per call, for the test to compare with the response the doc shows.

On a machine without curl (the project needs only Python and git), the same options the docs use
(``-s -S -N -X -H -d``) are carried out with httpx, with curl's defaults (``-d`` alone sends a form
Content-Type), so the walk-throughs are still checked; any other option is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

_FLAGS = {"--silent", "--show-error", "--no-buffer"}
_SHORT_FLAGS = set("sSN")


def _status_and_type(raw_headers: str) -> tuple[int, str]:
    """The final response's status and Content-Type (after any ``100 Continue``)."""
    status, content_type = 0, ""
    for line in raw_headers.splitlines():
        if line.startswith("HTTP/"):
            status, content_type = int(line.split()[1]), ""
        elif line.lower().startswith("content-type:"):
            content_type = line.split(":", 1)[1].strip()
    return status, content_type


def _passthrough(chunk: bytes, into: list[bytes]) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    into.append(chunk)


def run_real_curl(curl: str, args: list[str]) -> tuple[int, int, str, bytes]:
    chunks: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="curl-") as folder:
        headers = Path(folder) / "headers"
        process = subprocess.Popen([curl, "-D", str(headers), *args], stdout=subprocess.PIPE)  # noqa: S603
        assert process.stdout is not None
        while chunk := process.stdout.read1(65536):
            _passthrough(chunk, chunks)
        exit_code = process.wait()
        status, content_type = _status_and_type(headers.read_text("latin-1") if headers.exists() else "")
    return exit_code, status, content_type, b"".join(chunks)


def run_with_httpx(args: list[str]) -> tuple[int, int, str, bytes]:
    method: str | None = None
    headers: list[tuple[str, str]] = []
    data: str | None = None
    url: str | None = None
    given = iter(args)
    for arg in given:
        if arg in ("-X", "--request"):
            method = next(given)
        elif arg in ("-H", "--header"):
            name, _, value = next(given).partition(":")
            headers.append((name.strip(), value.strip()))
        elif arg in ("-d", "--data", "--data-raw"):
            data = next(given)
        elif arg in _FLAGS or (arg.startswith("-") and len(arg) > 1 and set(arg[1:]) <= _SHORT_FLAGS):
            continue
        elif arg.startswith("-"):
            sys.stderr.write(f"curl (httpx stand-in for the doc tests): unsupported option {arg}\n")
            return 2, 0, "", b""
        else:
            url = arg
    if url is None:
        sys.stderr.write("curl: no URL specified\n")
        return 2, 0, "", b""
    if data is not None and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    chunks: list[bytes] = []
    try:
        with (
            httpx.Client(timeout=60) as client,
            client.stream(
                method or ("POST" if data is not None else "GET"), url, headers=headers, content=data
            ) as response,
        ):
            for chunk in response.iter_raw():
                _passthrough(chunk, chunks)
            return 0, response.status_code, response.headers.get("content-type", ""), b"".join(chunks)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"curl: {exc}\n")
        return 7, 0, "", b"".join(chunks)


def main() -> int:
    args = sys.argv[1:]
    curl = os.environ.get("DOCS_REAL_CURL", "")
    exit_code, status, content_type, body = run_real_curl(curl, args) if curl else run_with_httpx(args)
    record = {
        "argv": args,
        "status": status,
        "content_type": content_type,
        "body": body.decode("utf-8", "replace"),
        "exit_code": exit_code,
    }
    with open(os.environ["DOCS_CURL_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
