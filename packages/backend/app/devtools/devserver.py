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
from app.devtools.mailsink import MailSink

DEV_EMAIL_FROM = "Eliza at Delight <eliza@delight.localhost>"
# What `delight dev` configured, for other `delight` commands run next to it (`delight nudges`).
DEV_ENV_FILE = "dev-env.json"
DEV_ENV_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CLERK_SECRET_KEY",
    "CLERK_WEBHOOK_SECRET",
    "CLERK_JWT_KEY",
    "NOTIFY_SMTP_URL",
    "NOTIFY_EMAIL_FROM",
    "PUBLIC_BASE_URL",
)


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


def start_mail_sink(directory: Path, base: str) -> MailSink | None:
    """Unless NOTIFY_SMTP_URL is set, an SMTP sink writing mails into ``directory``/mail, with the
    sender and the public base URL (links in mails) pointing at this server."""
    sink = None
    if not os.environ.get("NOTIFY_SMTP_URL"):
        sink = MailSink(directory / "mail").start()
        os.environ["NOTIFY_SMTP_URL"] = sink.url
    if not os.environ.get("NOTIFY_EMAIL_FROM"):
        os.environ["NOTIFY_EMAIL_FROM"] = DEV_EMAIL_FROM
    if not os.environ.get("PUBLIC_BASE_URL"):
        os.environ["PUBLIC_BASE_URL"] = base
    return sink


def write_dev_env(directory: Path) -> Path:
    """Record the running server's configuration (git-ignored, owner-only, removed on stop)."""
    path = directory / DEV_ENV_FILE
    values = {key: os.environ[key] for key in DEV_ENV_KEYS if os.environ.get(key)}
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return path


def use_dev_env(directory: Path) -> bool:
    """For a command run next to `delight dev` in development: fill what the environment (or .env)
    does not set from the running server's configuration. ``False`` when there is none to use."""
    configured = {**dotenv_values(".env"), **{key: value for key, value in os.environ.items() if value}}
    if (configured.get("ENVIRONMENT") or "development") != "development":
        return False
    path = directory / DEV_ENV_FILE
    if not path.exists():
        return False
    for key, value in json.loads(path.read_text()).items():
        if not configured.get(key):
            os.environ[key] = value
    return True


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


def banner(base: str, directory: object, services: int, token: str, mail: str | None = None) -> str:
    """What ``delight dev`` prints: the addresses, a development token and curl examples, written
    the way README.md's walk-through writes them (BASE is the server's root; the reply is followed
    at the stream_url the chat answer returns)."""
    auth = '-H "Authorization: Bearer $TOKEN"'
    return (
        "\nDelight is starting:\n"
        f"  API       {base}/\n"
        f"  Health    {base}/api/v1/health\n"
        f"  Docs      {base}/docs\n"
        f"  Data      {directory} (embedded services: {services})\n"
        + (f"  Mail      {mail}\n" if mail else "")
        + "\n"
        "In another terminal (a development session token for user_dev, valid 24 h; more with\n"
        "`./scripts/delight dev-token`):\n"
        f"  export BASE={base}\n"
        f"  export TOKEN={token}\n"
        f"  curl {auth} $BASE/api/v1/users/me\n"
        "Chat with Eliza: the answer (202) has a stream_url, where the reply streams as Server-Sent Events:\n"
        f"  curl -X POST {auth} -H 'Content-Type: application/json' $BASE/api/v1/companion/chat "
        """-d '{"message": "Hi Eliza, I feel stuck today"}'\n"""
        f'  curl -N {auth} "$BASE/api/v1/companion/stream/<conversation_id>?message_id=<message_id>"\n'
        "Step by step: README.md (Try it), docs/companion.md, docs/goals.md, docs/nudges.md.\n\n"
        "Press Ctrl-C to stop everything.\n"
    )


def run_dev(host: str, port: int, reload: bool, with_worker: bool) -> None:
    # uvicorn re-raises SIGTERM once it has shut down; as SystemExit it still runs the finally
    # block below, which stops the worker and the embedded services (Ctrl-C already does).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    directory = data_dir()
    started = prepare_environment(directory)
    worker: subprocess.Popen[bytes] | None = None
    base = f"http://{host}:{port}"
    sink: MailSink | None = None
    dev_env: Path | None = None
    try:
        sink = start_mail_sink(directory, base)
        dev_env = write_dev_env(directory)
        typer.echo("applying migrations ...")
        run_migrations(os.environ["DATABASE_URL"])
        if with_worker:
            worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=BACKEND_DIR)
        token = dev_token(directory, "user_dev", 24 * 3600)
        mail = f"{sink.folder}/ (every email sent lands here: SMTP sink at {sink.url})" if sink else None
        typer.echo(banner(base, directory, len(started), token, mail))
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
        if sink is not None:
            sink.stop()
        if dev_env is not None:
            dev_env.unlink(missing_ok=True)
        for service in reversed(started):
            service.stop()
        typer.echo("stopped.")
