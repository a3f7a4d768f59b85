"""`delight dev` environment preparation: configured services win over the embedded ones."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from app.core.config import load_settings
from app.devtools.devserver import banner, dev_secrets, dev_token, prepare_environment
from tests.support.services import ServiceURLs

KEYS = (
    "CORS_ORIGINS",
    "CLERK_AUTHORIZED_PARTIES",
    "CLERK_ISSUER",
    "DATABASE_URL",
    "REDIS_URL",
    "CLERK_SECRET_KEY",
    "CLERK_WEBHOOK_SECRET",
    "CLERK_JWT_KEY",
    "ENVIRONMENT",
)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty working directory and none of the service's variables; os.environ restored after."""
    saved = dict(os.environ)
    for key in KEYS:
        os.environ.pop(key, None)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def test_urls_and_secrets_from_dotenv_are_used_instead_of_embedded_services(
    clean_environ: Path, services: ServiceURLs
) -> None:
    (clean_environ / ".env").write_text(
        f"DATABASE_URL={services.database_url}\n"
        f"REDIS_URL={services.redis_url}\n"
        "CLERK_WEBHOOK_SECRET=whsec_from_dotenv\n"
    )
    started = prepare_environment(clean_environ / "data")
    assert started == []  # nothing embedded was started
    assert os.environ["DATABASE_URL"] == services.database_url
    assert os.environ["REDIS_URL"] == services.redis_url
    assert os.environ["CLERK_WEBHOOK_SECRET"] == "whsec_from_dotenv"
    # What .env did not set is generated once and kept for restarts.
    generated = dev_secrets(clean_environ / "data")
    assert os.environ["CLERK_SECRET_KEY"] == generated["CLERK_SECRET_KEY"]
    assert json.loads((clean_environ / "data" / "dev-secrets.json").read_text()) == generated
    assert os.environ["ENVIRONMENT"] == "development"
    settings = load_settings()
    assert settings.database_url == services.database_url
    assert settings.clerk_jwt_key  # the development key pair's public half


def test_empty_variables_are_filled_like_missing_ones(clean_environ: Path, services: ServiceURLs) -> None:
    os.environ.update(DATABASE_URL=services.database_url, REDIS_URL=services.redis_url, CLERK_SECRET_KEY="")
    prepare_environment(clean_environ / "data")
    assert os.environ["CLERK_SECRET_KEY"].startswith("sk_test_delight_local_")


def test_dev_secrets_are_stable_and_private(tmp_path: Path) -> None:
    first = dev_secrets(tmp_path)
    assert dev_secrets(tmp_path) == first
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


def test_banner_shows_base_the_token_and_a_chat_example_in_the_docs_form() -> None:
    text = banner("http://127.0.0.1:8000", Path("data"), 2, "tok")
    lines = [line.strip() for line in text.splitlines()]
    base = lines.index("export BASE=http://127.0.0.1:8000")
    assert lines[base + 1] == "export TOKEN=tok"
    assert lines[base + 2] == 'curl -H "Authorization: Bearer $TOKEN" $BASE/api/v1/users/me'
    chat = next(line for line in lines if "/companion/chat" in line)
    assert chat.startswith("curl -X POST ") and '$BASE/api/v1/companion/chat -d \'{"message":' in chat
    stream = next(line for line in lines if "/companion/stream/" in line)
    # The form of the stream_url that POST /companion/chat returns.
    assert stream.endswith('"$BASE/api/v1/companion/stream/<conversation_id>?message_id=<message_id>"')
    assert stream.startswith("curl -N ")


def test_dev_tokens_carry_the_party_and_issuer_the_server_reads_from_dotenv(clean_environ: Path) -> None:
    """`delight dev` reads .env; `delight dev-token` must mint for the same azp and iss, or the
    server refuses its tokens."""
    (clean_environ / ".env").write_text(
        "CORS_ORIGINS=https://app.example,https://admin.example\nCLERK_ISSUER=https://issuer.example\n"
    )
    claims = jwt.decode(dev_token(clean_environ / "data", "user_x", 60), options={"verify_signature": False})
    assert (claims["sub"], claims["azp"], claims["iss"]) == (
        "user_x",
        "https://app.example",
        "https://issuer.example",
    )
    os.environ["CLERK_AUTHORIZED_PARTIES"] = "https://web.example"  # the environment wins over .env
    os.environ["CLERK_ISSUER"] = ""  # ... but an empty variable counts as unset
    claims = jwt.decode(dev_token(clean_environ / "data", "user_x", 60), options={"verify_signature": False})
    assert (claims["azp"], claims["iss"]) == ("https://web.example", "https://issuer.example")
