"""Development tokens: a local key pair, the same verification path, refused by production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import ConfigError, load_settings
from app.devtools.devkeys import ensure_key_pair
from tests.auth.conftest import ApiFactory
from tests.support.auth import TestKey, bearer

BACKEND_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DELIGHT_DATA_DIR", str(tmp_path))
    for name in ("CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def dev_token(*args: str) -> str:
    result = CliRunner().invoke(cli, ["dev-token", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


async def test_dev_token_is_accepted_by_a_server_configured_with_the_dev_key(
    data_dir: Path, api: ApiFactory
) -> None:
    token = dev_token("--user", "user_devtest", "--ttl", "120")
    client = await api(clerk_jwt_key=ensure_key_pair(data_dir)[1])
    response = await client.get("/api/v1/users/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["clerk_user_id"] == "user_devtest"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert claims["azp"] == "http://localhost:3000"
    assert claims["sid"].startswith("sess_")


async def test_dev_token_is_refused_by_a_server_with_another_key(
    data_dir: Path, client: httpx.AsyncClient
) -> None:
    response = await client.get("/api/v1/users/me", headers=bearer(dev_token("--user", "user_x")))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


def test_dev_token_follows_authorized_parties_and_issuer(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", "https://app.example,https://b.example")
    monkeypatch.setenv("CLERK_ISSUER", "https://clerk.app.example")
    claims = jwt.decode(dev_token(), options={"verify_signature": False})
    assert (claims["azp"], claims["iss"], claims["sub"]) == (
        "https://app.example",
        "https://clerk.app.example",
        "user_dev",
    )


def test_key_pair_is_generated_once_and_private(data_dir: Path) -> None:
    first = ensure_key_pair(data_dir)
    assert ensure_key_pair(data_dir) == first
    assert (os.stat(data_dir / "dev-jwt-private.pem").st_mode & 0o777) == 0o600


def test_default_data_dir_is_git_ignored() -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "check-ignore", "-q", str(BACKEND_DIR / ".delight" / "dev-jwt-private.pem")],  # noqa: S607
        cwd=BACKEND_DIR,
        check=False,
    )
    assert result.returncode == 0


def production(**overrides: Any) -> dict[str, Any]:
    return {
        "_env_file": None,
        "environment": "production",
        "database_url": "postgresql://delight:pw@db.internal/delight",
        "clerk_secret_key": "sk_live_0123456789abcdef",
        "clerk_webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        **overrides,
    }


def test_production_refuses_to_start_with_the_development_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**production(clerk_jwt_key=ensure_key_pair(tmp_path)[1]))
    assert "development key" in str(caught.value)


def test_production_accepts_a_real_key() -> None:
    settings = load_settings(**production(clerk_jwt_key=TestKey(kid="ins_prod").public_pem))
    assert settings.is_production


def test_production_refusal_happens_before_serving(tmp_path: Path) -> None:
    """``uvicorn main:app`` exits with the one-line message (exit code 78) rather than serving."""
    settings = production(clerk_jwt_key=ensure_key_pair(tmp_path)[1])
    env = {"PATH": os.environ["PATH"], **{k.upper(): str(v) for k, v in settings.items() if k != "_env_file"}}
    result = subprocess.run(
        [sys.executable, "-c", "import main"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 78, result.stderr
    assert "development key" in result.stderr
    assert "Traceback" not in result.stderr
