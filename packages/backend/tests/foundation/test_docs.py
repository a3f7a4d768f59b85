"""The runbook and the deployment files agree with the code (Docker itself cannot run in CI)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.config import Settings

BACKEND_DIR = Path(__file__).resolve().parents[2]
ROOT = BACKEND_DIR.parents[1]
RUNBOOK = ROOT / "docs" / "runbook" / "backend-configuration.md"
SETTINGS = {name.upper() for name in Settings.model_fields}
# Variables read outside Settings: the container's port.
NOT_SETTINGS = {"PORT"}


def runbook_rows() -> set[str]:
    """Variable names in the first column of the runbook's tables."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", RUNBOOK.read_text(), re.MULTILINE))


def test_runbook_lists_every_setting() -> None:
    missing = sorted(SETTINGS - runbook_rows())
    assert missing == [], f"document these in {RUNBOOK.relative_to(ROOT)}: {missing}"


def documented_default(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def test_runbook_defaults_match_the_code() -> None:
    cells = dict(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| [^|]+ \| ([^|]+) \|", RUNBOOK.read_text(), re.MULTILINE)
    )
    wrong = {
        name.upper(): (cells[name.upper()].strip(), documented_default(field.default))
        for name, field in Settings.model_fields.items()
        if isinstance(field.default, int | float | str | Enum)  # simple defaults only
        and documented_default(field.default) not in cells[name.upper()]
    }
    assert wrong == {}


def test_runbook_lists_no_setting_that_does_not_exist() -> None:
    documented = runbook_rows() - NOT_SETTINGS - {"DELIGHT_DATA_DIR", "TEST_DATABASE_URL"}
    assert sorted(documented - SETTINGS) == []


def test_runbook_required_rows_match_the_required_settings() -> None:
    required_rows = set(re.findall(r"^\| `([A-Z_]+)` \| ✅", RUNBOOK.read_text(), re.MULTILINE))
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    assert required_rows == required == {"DATABASE_URL", "CLERK_SECRET_KEY", "CLERK_WEBHOOK_SECRET"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_passes_only_real_settings(compose: dict[str, Any]) -> None:
    for name in ("api", "worker", "migrate"):
        unknown = set(compose["services"][name]["environment"]) - SETTINGS - NOT_SETTINGS
        assert unknown == set(), f"{name}: {unknown}"


def test_compose_starts_the_app_after_healthy_services_and_migrations(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg16")
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["worker"]["command"] == ["delight", "worker"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    for name in ("postgres", "redis", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name


def test_dockerfile_runs_uvicorn_as_non_root_from_the_lock_file() -> None:
    dockerfile = (BACKEND_DIR / "Dockerfile").read_text()
    assert "FROM python:${PYTHON_VERSION}-slim" in dockerfile
    assert "ARG PYTHON_VERSION=3.11\n" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"^USER delight$", dockerfile, re.MULTILINE)
    assert re.search(
        r"^CMD exec uvicorn main:app --host 0\.0\.0\.0 --port \$\{PORT:-8000\}"
        r" --timeout-graceful-shutdown \d+$",
        dockerfile,
        re.M,
    )
    assert "/api/v1/health/live" in dockerfile
    assert re.search(r"^\s+ENVIRONMENT=production \\$", dockerfile, re.MULTILINE)  # fails closed
    ignored = (BACKEND_DIR / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv/", ".delight/"} <= set(ignored)
