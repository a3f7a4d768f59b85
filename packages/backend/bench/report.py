"""Append a dated, self-describing section to docs/benchmarks.md and echo it to stdout."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            cwd=DOC.parent,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def append(title: str, body: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = f"\n## {title}\n\n_{stamp} · commit {_commit()} · {machine}_\n\n{body.strip()}\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nResults appended by `./scripts/bench`; newest last.\n")
    with DOC.open("a") as handle:
        handle.write(section)
    sys.stdout.write(section)
