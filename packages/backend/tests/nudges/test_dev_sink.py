"""`delight dev`'s SMTP sink: emails land as files where the banner says, and `delight nudges` run
next to the dev server uses its configuration."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from app.devtools.devserver import banner, start_mail_sink, use_dev_env, write_dev_env
from app.devtools.mailsink import MailSink
from app.models.enums import NotificationChannel, NotificationKind
from app.nudges.channels import Outgoing, SmtpProvider

KEYS = (
    "NOTIFY_SMTP_URL",
    "NOTIFY_EMAIL_FROM",
    "PUBLIC_BASE_URL",
    "ENVIRONMENT",
    "DATABASE_URL",
    "CLERK_SECRET_KEY",
)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """None of these variables and an empty working directory; os.environ restored afterwards."""
    saved = dict(os.environ)
    for key in KEYS:
        os.environ.pop(key, None)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


async def test_mails_land_in_the_data_folder(settings_factory: Any, tmp_path: Path) -> None:
    sink = MailSink(tmp_path / "mail", port=0).start()
    try:
        settings = settings_factory(
            notify_smtp_url=sink.url, notify_email_from="Eliza <eliza@delight.localhost>"
        )
        note = Outgoing(
            uuid.uuid4(), uuid.uuid4(), NotificationKind.dropoff, NotificationChannel.email, "A small thing",
            "One five-minute step.", email="dev@example.com", unsubscribe_url="http://127.0.0.1:8000/u?token=t",
        )  # fmt: skip
        await SmtpProvider(settings).send(note)
    finally:
        sink.stop()
    [path] = sorted((tmp_path / "mail").glob("*.eml"))
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "dev@example.com" and message["Subject"] == "A small thing"


def test_dev_points_email_and_links_at_itself_and_commands_next_to_it_use_that(clean_environ: Path) -> None:
    data = clean_environ / "data"
    data.mkdir()
    os.environ["DATABASE_URL"] = "postgresql://dev@/delight"
    os.environ["CLERK_SECRET_KEY"] = "sk_test_local"
    sink = start_mail_sink(data, "http://127.0.0.1:8123")
    assert sink is not None
    try:
        assert (
            os.environ["NOTIFY_SMTP_URL"] == sink.url
            and os.environ["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
        )
        path = write_dev_env(data)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        recorded = json.loads(path.read_text())
        assert (
            recorded["NOTIFY_SMTP_URL"] == sink.url
            and recorded["DATABASE_URL"] == "postgresql://dev@/delight"
        )
        text = banner("http://127.0.0.1:8123", data, 2, "tok", f"{sink.folder}/")
        assert f"Mail      {sink.folder}/" in text
    finally:
        sink.stop()

    for key in KEYS:
        os.environ.pop(key, None)
    os.environ["PUBLIC_BASE_URL"] = "https://mine.example"  # what the shell sets wins
    assert use_dev_env(data) is True
    assert os.environ["NOTIFY_SMTP_URL"] == recorded["NOTIFY_SMTP_URL"]
    assert os.environ["PUBLIC_BASE_URL"] == "https://mine.example"
    os.environ["ENVIRONMENT"] = "production"
    os.environ.pop("NOTIFY_SMTP_URL")
    assert use_dev_env(data) is False and "NOTIFY_SMTP_URL" not in os.environ  # never outside development
