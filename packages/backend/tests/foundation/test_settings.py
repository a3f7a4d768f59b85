"""Settings come from the environment only; a broken environment stops start-up with one message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import DEFAULT_CORS_ORIGINS, ConfigError, Environment, Settings, load_settings

BACKEND_DIR = Path(__file__).resolve().parents[2]
REQUIRED = ("DATABASE_URL", "CLERK_SECRET_KEY", "CLERK_WEBHOOK_SECRET")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the settings' variables; tests set what they need."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def load(**overrides: object) -> Settings:
    # No .env: a developer's local file must not change what these tests see.
    return load_settings(_env_file=None, **overrides)


PLACEHOLDERS = ("sk_test_...", "whsec_...")  # as in .env.example


def set_required(env: pytest.MonkeyPatch, secrets: tuple[str, str] = PLACEHOLDERS) -> None:
    env.setenv("DATABASE_URL", "postgresql://delight:delight@db.internal:5432/delight")
    env.setenv("CLERK_SECRET_KEY", secrets[0])
    env.setenv("CLERK_WEBHOOK_SECRET", secrets[1])


def test_missing_required_variables_are_named_in_one_message(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    assert message.count("\n") == 0
    assert "missing required environment variables: " + ", ".join(REQUIRED) in message
    assert ".env.example" in message


def test_one_missing_variable_is_named_alone(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.delenv("CLERK_WEBHOOK_SECRET")
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    assert "missing required environment variables: CLERK_WEBHOOK_SECRET" in message
    assert "DATABASE_URL" not in message
    assert "CLERK_SECRET_KEY" not in message


def test_invalid_values_are_reported_with_missing_ones(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "mysql://root@localhost/delight")
    env.setenv("HEALTH_TIMEOUT_SECONDS", "0")
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    assert "missing required environment variables: CLERK_SECRET_KEY, CLERK_WEBHOOK_SECRET" in message
    assert "invalid setting DATABASE_URL: DATABASE_URL must start with postgresql://" in message
    assert "invalid setting HEALTH_TIMEOUT_SECONDS" in message


def test_placeholder_secrets_are_refused_in_production(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    assert "placeholder secrets are not allowed in production" in message
    assert "CLERK_SECRET_KEY" in message
    assert "CLERK_WEBHOOK_SECRET" in message


def test_placeholder_openai_key_is_refused_in_production(env: pytest.MonkeyPatch) -> None:
    set_required(env, ("sk_live_a1b2c3d4e5", "whsec_c2VjcmV0c2VjcmV0"))
    env.setenv("ENVIRONMENT", "production")
    env.setenv("OPENAI_API_KEY", "your_openai_key")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load()


def test_real_secrets_are_accepted_in_production(env: pytest.MonkeyPatch) -> None:
    set_required(env, ("sk_live_a1b2c3d4e5", "whsec_c2VjcmV0c2VjcmV0"))
    env.setenv("ENVIRONMENT", "production")
    settings = load()
    assert settings.is_production
    assert settings.clerk_secret_key.get_secret_value() == "sk_live_a1b2c3d4e5"
    assert "sk_live_a1b2c3d4e5" not in repr(settings)


def test_placeholder_secrets_are_accepted_in_development(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    settings = load()
    assert settings.environment is Environment.development
    assert settings.clerk_secret_key.get_secret_value() == "sk_test_..."
    assert settings.clerk_webhook_secret.get_secret_value() == "whsec_..."


def test_cors_origins_are_comma_separated(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("CORS_ORIGINS", "https://app.delight.example, https://staging.delight.example ,")
    settings = load()
    assert settings.cors_origins == ["https://app.delight.example", "https://staging.delight.example"]


def test_cors_origins_default_to_local_web_app(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    settings = load()
    assert settings.cors_origins == ["http://localhost:3000", "http://127.0.0.1:3000"]
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS


def test_authorized_parties_default_to_cors_origins(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("CORS_ORIGINS", "https://app.delight.example")
    settings = load()
    assert settings.clerk_authorized_parties is None
    assert settings.authorized_parties == ["https://app.delight.example"]


def test_authorized_parties_can_be_set_separately(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("CORS_ORIGINS", "https://app.delight.example")
    env.setenv("CLERK_AUTHORIZED_PARTIES", "https://app.delight.example,https://admin.delight.example")
    settings = load()
    assert settings.authorized_parties == ["https://app.delight.example", "https://admin.delight.example"]


def test_database_url_is_rewritten_for_asyncpg(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("DATABASE_URL", "postgres://u:p@db.internal:5432/delight?sslmode=require")
    settings = load()
    assert settings.database_url == "postgres://u:p@db.internal:5432/delight?sslmode=require"
    assert settings.async_database_url == "postgresql+asyncpg://u:p@db.internal:5432/delight?ssl=require"


def test_a_dotenv_file_fills_missing_variables(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "DATABASE_URL=postgresql://from-dotenv/delight\nCLERK_SECRET_KEY=sk_test_x1\nCLERK_WEBHOOK_SECRET=whsec_x1\n"
    )
    env.setenv("CLERK_SECRET_KEY", "sk_test_from_environment")
    settings = load_settings(_env_file=str(dotenv))
    assert settings.database_url == "postgresql://from-dotenv/delight"
    # Real environment variables win over the file.
    assert settings.clerk_secret_key.get_secret_value() == "sk_test_from_environment"


def test_uvicorn_with_missing_environment_exits_with_one_clear_message(tmp_path: Path) -> None:
    """`uvicorn main:app` (what the Dockerfile runs) without configuration: one line, no traceback.

    The working directory is an empty folder so that a developer's packages/backend/.env cannot
    supply the variables; --app-dir points uvicorn at packages/backend as running from there would.
    """
    uvicorn = Path(sys.executable).with_name("uvicorn")
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(uvicorn), "main:app", "--app-dir", str(BACKEND_DIR), "--port", "0"],
        cwd=tmp_path,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "Delight cannot start: missing required environment variables: "
        "DATABASE_URL, CLERK_SECRET_KEY, CLERK_WEBHOOK_SECRET (see packages/backend/.env.example)"
    ]


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    """`OPENAI_API_KEY=` (as .env.example ships it) means "not configured", even in production."""
    set_required(env, ("sk_live_a1b2c3d4e5", "whsec_c2VjcmV0c2VjcmV0"))
    env.setenv("ENVIRONMENT", "production")
    for name in ("OPENAI_API_KEY", "SENTRY_DSN", "REDIS_URL", "CLERK_AUTHORIZED_PARTIES", "CORS_ORIGINS"):
        env.setenv(name, "")
    settings = load()
    assert settings.openai_api_key is None
    assert settings.sentry_dsn is None
    assert settings.redis_url is None
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS
    assert settings.authorized_parties == DEFAULT_CORS_ORIGINS


def test_an_empty_required_variable_is_missing(env: pytest.MonkeyPatch) -> None:
    set_required(env)
    env.setenv("DATABASE_URL", "")
    with pytest.raises(ConfigError, match="missing required environment variables: DATABASE_URL"):
        load()
