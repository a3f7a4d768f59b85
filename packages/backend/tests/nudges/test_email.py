"""The email channel over a real SMTP server: multipart text + HTML, one-click unsubscribe (signed,
expiring, one channel, no sign-in), STARTTLS with credentials, and a relay that is down or refuses
(retried with backoff, then failed, never lost)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from app.models.enums import NotificationChannel, NotificationKind
from app.nudges import tokens
from app.nudges.channels import Outgoing, RetryableError, SmtpProvider
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store
from tests.support.smtp import SMTPServer

MONDAY_9 = datetime(2025, 1, 13, 9, tzinfo=UTC)
DAY_2 = datetime(2025, 1, 15, 10, tzinfo=UTC)
DAY_4 = datetime(2025, 1, 17, 10, tzinfo=UTC)


async def emailed_user(api: Any, clock: FakeClock, store: Store, sub: str) -> Api:
    me: Api = api(sub)
    clock.set(MONDAY_9)
    goal = await me.goal(title="Finish my thesis")
    await me.mission(goal["id"], title="Outline chapter two", estimated_minutes=10)
    await store.set_email(sub, f"{sub}@example.com")
    return me


async def test_the_email_is_multipart_with_one_click_unsubscribe_that_works_without_signing_in(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    me = await emailed_user(api, clock, store, "user_mail")
    await sweep(DAY_2)
    await sweep(DAY_4)
    [mail] = smtp.received
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())
    assert "Outline chapter two" in text and "Outline chapter two" in html.replace("&#x27;", "'")
    link = message["List-Unsubscribe"].strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith("http://testserver/api/v1/notifications/unsubscribe?token=")
    assert link in text and link.replace("&", "&amp;") in html
    assert message["Message-ID"].endswith("@delight.test>")

    path = urlsplit(link)
    response = await client.get(f"{path.path}?{path.query}")  # no Authorization header
    assert response.status_code == 200, response.text
    assert response.json() == {
        "channel": "email",
        "subscribed": False,
        "message": "You will get no more emails from Delight. "
        "You can turn them back on in the app's settings.",
    }
    prefs = await me.get("/users/me/preferences")
    assert prefs["communication_preferences"] == {"email": False}
    # Clicking again (or a mail client's one-click POST) is harmless; a browser gets a page.
    assert (
        await client.post(
            f"{path.path}?{path.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    ).status_code == 200
    page = await client.get(f"{path.path}?{path.query}", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "no more emails" in page.text

    # The next sequence's email is not sent.
    clock.set(DAY_4 + timedelta(hours=1))
    await me.post(
        "/goals", {"title": "Again", "goal_type": "abstract", "value_category": "growth"}, expect=201
    )
    await sweep(datetime(2025, 1, 20, 10, tzinfo=UTC))  # day 2 of the new sequence
    await sweep(datetime(2025, 1, 22, 10, tzinfo=UTC))  # day 4
    assert [
        (n.step, n.channel.value, n.state.value, n.reason) for n in (await store.notes("user_mail"))[2:]
    ] == [
        (1, "in_app", "sent", None),
        (2, "email", "suppressed", "opted_out"),
    ]
    assert len(smtp.received) == 1


async def test_an_unsubscribe_token_is_signed_single_channel_and_expires(
    app: Any, api: Any, client: httpx.AsyncClient, store: Store
) -> None:
    me: Api = api("user_token")
    await me.patch("/users/me/preferences", {"communication_preferences": {"sms": True}})
    settings = app.state.settings
    user_id = (await store.user("user_token")).id
    now = datetime.now(UTC)
    sms = tokens.issue(settings, user_id, NotificationChannel.sms, now)
    assert (await client.get("/api/v1/notifications/unsubscribe", params={"token": sms})).json()[
        "channel"
    ] == "sms"
    assert (await me.get("/users/me/preferences"))["communication_preferences"] == {"sms": False}

    expired = tokens.issue(settings, user_id, NotificationChannel.email, now - timedelta(days=31))
    response = await client.get("/api/v1/notifications/unsubscribe", params={"token": expired})
    assert response.status_code == 400 and response.json()["error"]["code"] == "expired_token"
    payload, signature = sms.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    for bad in (forged, sms[:-3] + "xyz", "not.a-token-at-all"):
        response = await client.get("/api/v1/notifications/unsubscribe", params={"token": bad})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_token", bad
    other = tokens.issue(
        settings.model_copy(update={"notify_signing_secret": SecretStr("another-secret")}),
        user_id,
        NotificationChannel.email,
        now,
    )
    response = await client.get("/api/v1/notifications/unsubscribe", params={"token": other})
    assert response.json()["error"]["code"] == "invalid_token"
    assert (await me.get("/users/me/preferences"))["communication_preferences"] == {
        "sms": False
    }  # email still on
    missing = await client.get("/api/v1/notifications/unsubscribe")
    assert missing.status_code == 422 and missing.json()["error"]["details"][0]["field"] == "token"


@pytest.mark.parametrize("nudge_overrides", [{"notify_max_attempts": 3, "notify_retry_base_seconds": 600}])
async def test_smtp_down_is_retried_with_backoff_then_failed_and_kept(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    await emailed_user(api, clock, store, "user_down")
    await sweep(DAY_2)
    smtp.stop()
    first = await sweep(DAY_4)
    assert first.delivered == {"retry": 1}
    email = (await store.notes("user_down"))[1]
    assert email.state.value == "pending" and email.attempts == 1
    assert email.next_attempt_at == DAY_4 + timedelta(minutes=10) and email.last_error
    assert (await sweep(DAY_4 + timedelta(minutes=5))).delivered == {}  # not yet due again
    assert (await sweep(DAY_4 + timedelta(minutes=10))).delivered == {"retry": 1}
    email = (await store.notes("user_down"))[1]
    assert email.attempts == 2 and email.next_attempt_at == DAY_4 + timedelta(minutes=30)  # backoff doubles
    assert (await sweep(DAY_4 + timedelta(minutes=30))).delivered == {"failed": 1}
    email = (await store.notes("user_down"))[1]
    assert (email.state.value, email.attempts, email.next_attempt_at) == ("failed", 3, None)
    assert email.last_error and "Connect" in email.last_error
    smtp.start()
    assert (await sweep(DAY_4 + timedelta(hours=2))).delivered == {}  # a failed note is kept, not resent
    assert smtp.received == []


async def test_a_relay_that_refuses_for_now_is_retried_and_one_that_refuses_for_good_is_not(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    await emailed_user(api, clock, store, "user_refused")
    await sweep(DAY_2)
    smtp.refuse_with = "451 4.3.0 Try again later"
    assert (await sweep(DAY_4)).delivered == {"retry": 1}
    smtp.refuse_with = "554 5.7.1 Rejected"
    assert (await sweep(DAY_4 + timedelta(minutes=10))).delivered == {"failed": 1}
    assert (await store.notes("user_refused"))[1].last_error == "SMTPDataError 554"


async def test_a_recipient_refused_for_now_is_retried_and_one_refused_for_good_is_not(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    """Greylisting answers 4xx at RCPT TO (the client reports it as "all recipients refused")."""
    await emailed_user(api, clock, store, "user_greylisted")
    await sweep(DAY_2)
    smtp.refuse_rcpt_with = "450 4.2.0 Greylisted, please try again later"
    assert (await sweep(DAY_4)).delivered == {"retry": 1}
    assert (await store.notes("user_greylisted"))[1].last_error == "SMTPRecipientsRefused [450]"
    smtp.refuse_rcpt_with = "550 5.1.1 No such user"
    assert (await sweep(DAY_4 + timedelta(minutes=10))).delivered == {"failed": 1}
    assert (await store.notes("user_greylisted"))[1].last_error == "SMTPRecipientsRefused [550]"
    smtp.refuse_rcpt_with = None
    assert (await sweep(DAY_4 + timedelta(hours=1))).delivered == {}  # failed for good: not resent
    assert smtp.received == []


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def outgoing() -> Outgoing:
    import uuid

    return Outgoing(
        uuid.uuid4(),
        uuid.uuid4(),
        NotificationKind.dropoff,
        NotificationChannel.email,
        "Hello",
        "One small step.",
        email="someone@example.com",
        unsubscribe_url="http://testserver/u?token=t",
    )


async def test_credentials_go_over_starttls_and_never_in_the_clear(
    settings_factory: Any, tmp_path: Path
) -> None:
    context, cert = self_signed(tmp_path)
    with SMTPServer(tls_context=context, credentials=("mailer", "s3cret")) as secure:
        settings = settings_factory(
            notify_smtp_url=f"smtp://mailer:s3cret@127.0.0.1:{secure.port}",
            notify_email_from="Eliza <eliza@delight.test>",
            notify_smtp_ca_file=str(cert),
        )
        await SmtpProvider(settings).send(outgoing())
        [mail] = secure.received
        assert mail.recipients == ["someone@example.com"] and mail.message["Subject"] == "Hello"
    with SMTPServer() as plain:  # offers no STARTTLS: the password is not sent
        settings = settings_factory(
            notify_smtp_url=f"smtp://mailer:s3cret@127.0.0.1:{plain.port}", notify_email_from="e@delight.test"
        )
        with pytest.raises(RetryableError):
            await SmtpProvider(settings).send(outgoing())
        assert plain.received == []


def test_the_token_parses_back_to_its_user_and_channel(settings: Any) -> None:
    import uuid

    user_id = uuid.uuid4()
    now = datetime(2025, 1, 1, tzinfo=UTC)
    url = tokens.unsubscribe_url(settings, user_id, NotificationChannel.push, now)
    token = parse_qs(urlsplit(url).query)["token"][0]
    found = tokens.verify(settings, token, now + timedelta(days=29))
    assert (found.user_id, found.channel) == (user_id, NotificationChannel.push)
    with pytest.raises(tokens.TokenError):
        tokens.verify(settings, token, now + timedelta(days=30, seconds=1))
