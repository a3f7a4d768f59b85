"""``delight dev``: embedded services (when no URLs are given), migrations, API with reload, worker."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import typer
from dotenv import dotenv_values, load_dotenv

from app.core.config import DEFAULT_CORS_ORIGINS
from app.db.migrate import BACKEND_DIR, run_migrations
from app.devtools.devkeys import DEV_ISSUER, ensure_key_pair, mint_token
from app.devtools.embedded import EmbeddedService, start_postgres, start_redis


def data_dir() -> Path:
    return Path(os.environ.get("DELIGHT_DATA_DIR", BACKEND_DIR / ".delight")).resolve()


def dev_secrets(directory: Path) -> dict[str, str]:
    """Local-only secrets, generated once and kept (git-ignored) so restarts keep working."""
    path = directory / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    values = {
        "CLERK_SECRET_KEY": "sk_test_delight_local_" + secrets.token_hex(16),
        "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def prepare_environment(directory: Path) -> list[EmbeddedService]:
    """Fill os.environ with what the service needs, starting embedded services where no URL is set."""
    # What a .env in the working directory sets (Settings reads the same file) counts as set too.
    load_dotenv(".env", override=False)
    started: list[EmbeddedService] = []
    if not os.environ.get("DATABASE_URL"):
        postgres = start_postgres(directory / "postgres")
        started.append(postgres)
        os.environ["DATABASE_URL"] = postgres.url
    if not os.environ.get("REDIS_URL"):
        redis = start_redis(directory / "redis")
        started.append(redis)
        os.environ["REDIS_URL"] = redis.url
    for key, value in dev_secrets(directory).items():
        if not os.environ.get(key):
            os.environ[key] = value
    if not os.environ.get("CLERK_JWT_KEY"):
        os.environ["CLERK_JWT_KEY"] = ensure_key_pair(directory)[1]
    os.environ.setdefault("ENVIRONMENT", "development")
    return started


def dev_token(directory: Path, user_id: str, ttl_seconds: int) -> str:
    """A token the development server accepts (its CLERK_JWT_KEY is this key pair's public half),
    for the authorized party and issuer it checks, read as the server reads them: the environment,
    then a .env in the working directory (empty variables count as unset)."""
    configured = {**dotenv_values(".env"), **{key: value for key, value in os.environ.items() if value}}
    origins = configured.get("CORS_ORIGINS") or ",".join(DEFAULT_CORS_ORIGINS)
    parties = configured.get("CLERK_AUTHORIZED_PARTIES") or origins
    private_pem, _ = ensure_key_pair(directory)
    issuer = configured.get("CLERK_ISSUER") or DEV_ISSUER
    return mint_token(private_pem, user_id, ttl_seconds, parties.split(",")[0].strip(), issuer)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def banner(base: str, directory: object, services: int, token: str) -> str:
    """What ``delight dev`` prints: the addresses, a development token and curl examples, written
    the way README.md's walk-through writes them (BASE is the server's root; the reply is followed
    at the stream_url the chat answer returns)."""
    auth = '-H "Authorization: Bearer $TOKEN"'
    return (
        "\nDelight is starting:\n"
        f"  API       {base}/\n"
        f"  Health    {base}/api/v1/health\n"
        f"  Docs      {base}/docs\n"
        f"  Data      {directory} (embedded services: {services})\n\n"
        "In another terminal (a development session token for user_dev, valid 24 h; more with\n"
        "`./scripts/delight dev-token`):\n"
        f"  export BASE={base}\n"
        f"  export TOKEN={token}\n"
        f"  curl {auth} $BASE/api/v1/users/me\n"
        "Chat with Eliza: the answer (202) has a stream_url, where the reply streams as Server-Sent Events:\n"
        f"  curl -X POST {auth} -H 'Content-Type: application/json' $BASE/api/v1/companion/chat "
        """-d '{"message": "Hi Eliza, I feel stuck today"}'\n"""
        f'  curl -N {auth} "$BASE/api/v1/companion/stream/<conversation_id>?message_id=<message_id>"\n'
        "Step by step: README.md (Try it), docs/companion.md, docs/goals.md.\n\n"
        "Press Ctrl-C to stop everything.\n"
    )


def run_dev(host: str, port: int, reload: bool, with_worker: bool) -> None:
    # uvicorn re-raises SIGTERM once it has shut down; as SystemExit it still runs the finally
    # block below, which stops the worker and the embedded services (Ctrl-C already does).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    directory = data_dir()
    started = prepare_environment(directory)
    worker: subprocess.Popen[bytes] | None = None
    try:
        typer.echo("applying migrations ...")
        run_migrations(os.environ["DATABASE_URL"])
        if with_worker:
            worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=BACKEND_DIR)
        base = f"http://{host}:{port}"
        token = dev_token(directory, "user_dev", 24 * 3600)
        typer.echo(banner(base, directory, len(started), token))
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            "main:app",
            host=host,
            port=port,
            reload=reload,
            app_dir=str(BACKEND_DIR),
            reload_dirs=[str(BACKEND_DIR / "app")] if reload else None,
            log_config=None,
        )
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        for service in reversed(started):
            service.stop()
        typer.echo("stopped.")
