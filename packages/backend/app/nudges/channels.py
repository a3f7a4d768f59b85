"""Channels behind one provider interface: in-app (the notification centre), email over SMTP, and
SMS and web push as logging providers until real ones are chosen (docs/nudges.md, "Channels").

A provider's ``send`` returns when the note is handed over, raises ``RetryableError`` for a failure
worth retrying (the relay is down, a timeout) and ``PermanentError`` for one that is not (the relay
refused the recipient). Logs name the note and the user, never the text or the address.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.core.config import Settings
from app.core.logging import get_logger
from app.models.enums import NotificationChannel, NotificationKind

log = get_logger(__name__)


class DeliveryError(Exception):
    """A note could not be handed over; the message names the failure, never the note's text."""


class RetryableError(DeliveryError):
    pass


class PermanentError(DeliveryError):
    pass


@dataclass(frozen=True)
class Outgoing:
    """One note as a provider sends it."""

    notification_id: uuid.UUID
    user_id: uuid.UUID
    kind: NotificationKind
    channel: NotificationChannel
    title: str
    body: str
    email: str | None = None
    unsubscribe_url: str | None = None


class Provider(Protocol):
    channel: NotificationChannel

    @property
    def available(self) -> bool:
        """Whether the channel is configured at all (unavailable: its notes are suppressed)."""
        ...

    async def send(self, note: Outgoing) -> None: ...


class InAppProvider:
    """The notification centre is the outbox row itself: once ``sent``, the API lists it."""

    channel = NotificationChannel.in_app
    available = True

    async def send(self, note: Outgoing) -> None:
        return None


class LoggingProvider:
    """SMS and web push until a real provider exists: a structured log line per note."""

    available = True

    def __init__(self, channel: NotificationChannel) -> None:
        self.channel = channel

    async def send(self, note: Outgoing) -> None:
        log.info(
            "notification_logged",
            channel=self.channel.value,
            notification_id=str(note.notification_id),
            user_id=str(note.user_id),
            kind=note.kind.value,
            characters=len(note.body),
        )


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )


class SmtpProvider:
    """Email over SMTP (aiosmtplib): ``smtp://`` upgrades with STARTTLS when the server offers it and
    insists on it when the URL carries credentials (a password never travels in the clear);
    ``smtps://`` speaks TLS from the start."""

    channel = NotificationChannel.email

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        url = settings.notify_smtp_url
        self._target = SmtpTarget.parse(url.get_secret_value()) if url is not None else None

    @property
    def available(self) -> bool:
        return self._target is not None

    async def send(self, note: Outgoing) -> None:
        target = self._target
        if target is None:
            raise PermanentError("email is not configured (NOTIFY_SMTP_URL)")
        if not note.email:
            raise PermanentError("no email address")
        message = build_email(self._settings, note)
        try:
            await aiosmtplib.send(
                message,
                hostname=target.hostname,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.implicit_tls,
                start_tls=None if target.implicit_tls or target.username is None else True,
                timeout=self._settings.notify_smtp_timeout_seconds,
                cert_bundle=self._settings.notify_smtp_ca_file,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: final only if every refusal is a 5xx (a 4xx, e.g. greylisting at
            # RCPT, passes on a later try).
            codes = sorted({refused.code for refused in exc.recipients})
            kind = PermanentError if codes and all(500 <= code < 600 for code in codes) else RetryableError
            raise kind(f"SMTPRecipientsRefused {codes}") from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is the relay's final word; 4xx (and everything else) may pass on a later try.
            kind = PermanentError if 500 <= exc.code < 600 else RetryableError
            raise kind(f"{type(exc).__name__} {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryableError(type(exc).__name__) from None


def _paragraphs(text: str) -> str:
    blocks = [block.strip() for block in text.split("\n\n") if block.strip()]
    return "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in blocks)


def build_email(settings: Settings, note: Outgoing) -> EmailMessage:
    """Multipart text + HTML, with one-click unsubscribe headers (RFC 2369, RFC 8058)."""
    sender = settings.notify_email_from or "delight@localhost"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "delight.localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = note.email or ""
    message["Subject"] = note.title
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{note.notification_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    footer_text = "You get these notes because email is on in your Delight notification settings."
    if note.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{note.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer_text += f"\nTurn them off with one click: {note.unsubscribe_url}"
    message.set_content(f"{note.body}\n\nEliza\n\n--\n{footer_text}\n")
    link = (
        f'<a href="{html.escape(note.unsubscribe_url, quote=True)}">Turn off these emails</a>'
        if note.unsubscribe_url
        else ""
    )
    message.add_alternative(
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
        f"{_paragraphs(note.body)}<p>Eliza</p>"
        '<hr><p style="color: #666; font-size: 12px">'
        "You get these notes because email is on in your Delight notification settings. "
        f"{link}</p></body></html>",
        subtype="html",
    )
    return message


class Providers:
    """One provider per channel, built from the settings."""

    def __init__(self, providers: dict[NotificationChannel, Provider]) -> None:
        self._providers = providers

    def __getitem__(self, channel: NotificationChannel) -> Provider:
        return self._providers[channel]

    def available(self, channel: NotificationChannel) -> bool:
        return self._providers[channel].available


def build_providers(settings: Settings) -> Providers:
    return Providers(
        {
            NotificationChannel.in_app: InAppProvider(),
            NotificationChannel.email: SmtpProvider(settings),
            NotificationChannel.sms: LoggingProvider(NotificationChannel.sms),
            NotificationChannel.push: LoggingProvider(NotificationChannel.push),
        }
    )
