"""A real SMTP server in-process (aiosmtpd) for the email channel's tests: the project's SMTP client
(aiosmtplib) talks the real protocol to it. It can refuse (4xx/5xx), be stopped and started again on
the same port (the relay is down, then back), and speak STARTTLS with AUTH."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SMTPServer:
    port: int = field(default_factory=free_port)
    refuse_with: str | None = None  # at DATA, e.g. "451 4.3.0 try again later" or "554 5.7.1 no"
    refuse_rcpt_with: str | None = None  # at RCPT TO, e.g. "450 4.2.0 Greylisted" or "550 5.1.1 unknown"
    received: list[Received] = field(default_factory=list)
    tls_context: ssl.SSLContext | None = None
    credentials: tuple[str, str] | None = None
    _controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_rcpt_with:
            return self.refuse_rcpt_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with:
            return self.refuse_with
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok)

    def start(self) -> SMTPServer:
        options: dict[str, Any] = {}
        if self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials is not None:
            options.update(authenticator=self._authenticate, auth_require_tls=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
