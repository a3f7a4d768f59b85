"""Settings from the environment (and an optional ``.env``), validated once at start-up."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.database_url import AsyncDatabaseURL, DatabaseURLError, to_async_url
from app.core.keys import is_development_key, load_public_key

DEFAULT_CORS_ORIGINS = ["http://localhost:3000", "http://127.0.0.1:3000"]
# all-MiniLM-L6-v2, the default (local) embedding model, produces 384-dimensional vectors.
LOCAL_EMBEDDING_DIMENSIONS = 384
CLERK_API_URL = "https://api.clerk.com"
# Values copied from .env.example; a deployment that still carries them is misconfigured.
PLACEHOLDER_SECRETS = {"sk_test_...", "whsec_...", "sk_live_...", "changeme", ""}


class Environment(StrEnum):
    development = "development"
    test = "test"
    staging = "staging"
    production = "production"


class ConfigError(Exception):
    """The environment does not describe a runnable service; the message says what to set."""


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CSV = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    # Empty variables count as unset (``OPENAI_API_KEY=`` as in .env.example means "not configured").
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True)

    # --- required -----------------------------------------------------------------------
    database_url: str
    clerk_secret_key: SecretStr
    clerk_webhook_secret: SecretStr

    # --- runtime ------------------------------------------------------------------------
    environment: Environment = Environment.development
    infra_mode: Literal["cloud-dev", "local"] = "local"
    redis_url: str | None = None
    sentry_dsn: str | None = None
    cors_origins: CSV = Field(default_factory=lambda: list(DEFAULT_CORS_ORIGINS))
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    health_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # --- request path, pools and caches (docs/runbook: "Sizing") ---------------------------
    # Per process: pool_size connections kept open, up to max_overflow more under load; a request
    # waits at most pool_timeout for one, then gets 503.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Per process: connections in the Redis client pool (commands wait up to the socket timeout
    # for a free one), plus one for cache invalidation. Each open SSE stream uses one while it
    # waits for events, so this bounds the streams a process serves at once.
    redis_max_connections: int = Field(default=200, ge=4)
    # Verified Clerk sub → user, per process; invalidated across processes through Redis.
    user_cache_ttl_seconds: float = Field(default=30.0, ge=0, le=3600)  # 0 turns the cache off
    user_cache_max_entries: int = Field(default=10_000, ge=1)

    # --- metrics (Prometheus) -----------------------------------------------------------
    # A separate listener for /metrics (unset: none); and/or /metrics on the API port behind a
    # bearer token (unset: not served there).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_token: SecretStr | None = None
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # USD per million tokens of COMPANION_MODEL, for delight_model_cost_usd_total (gpt-4o-mini's).
    model_input_cost_per_million_tokens: float = Field(default=0.15, ge=0)
    model_output_cost_per_million_tokens: float = Field(default=0.60, ge=0)
    # Unset: /docs, /redoc and /openapi.json are served except in production.
    api_docs_enabled: bool | None = None

    # --- limits (docs/runbook/backend-configuration.md, "Limits") ------------------------
    # Request bodies larger than this are refused with 413 before they are read (the Clerk webhook
    # has its own 1 MiB cap).
    max_request_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Requests per authenticated user (Clerk user id) per minute, on every authenticated route.
    rate_limit_per_minute: int = Field(default=100, ge=1)
    # Reply streams (SSE) one user may have open at once, across every API process.
    max_streams_per_user: int = Field(default=5, ge=1, le=1000)
    max_memories_per_user: int = Field(default=20_000, ge=1)
    max_goals_per_user: int = Field(default=500, ge=1)
    max_missions_per_goal: int = Field(default=2_000, ge=1)
    # JSON size of one memory's metadata, also after a duplicate write merges new keys in.
    max_memory_metadata_bytes: int = Field(default=16_384, ge=256, le=1024 * 1024)

    # --- Clerk session verification -----------------------------------------------------
    clerk_jwt_key: str | None = None
    clerk_api_url: str = CLERK_API_URL
    clerk_authorized_parties: CSV | None = None
    clerk_issuer: str | None = None
    clerk_jwt_leeway_seconds: int = Field(default=5, ge=0, le=300)
    clerk_jwks_cache_ttl_seconds: int = Field(default=3600, ge=1)
    clerk_jwks_refresh_interval_seconds: int = Field(default=30, ge=0)
    clerk_webhook_delete_enabled: bool = False

    # --- language models and embeddings -------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    # local: the bundled all-MiniLM-L6-v2 ONNX model (offline); openai: OPENAI_BASE_URL's /embeddings.
    embedding_provider: Literal["local", "openai"] = "local"
    # The OpenAI (or compatible) embedding model; the local provider's model is fixed.
    embedding_model: str = "text-embedding-3-small"
    # Size of memories.embedding, fixed by migration 0003: changing it needs a new migration and
    # `delight memory reembed`. The local model produces 384; OpenAI is asked for this many.
    embedding_dimensions: int = Field(default=LOCAL_EMBEDDING_DIMENSIONS, ge=1, le=2000)
    embedding_batch_size: int = Field(default=32, ge=1, le=2048)
    embedding_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # CPU threads of the local model per process (more burns CPU spinning on a busy machine).
    embedding_threads: int = Field(default=1, ge=1, le=64)

    # --- companion memory (docs/memory.md) ----------------------------------------------
    memory_prune_retention_days: int = Field(default=30, ge=1)
    memory_prune_hour: int = Field(default=2, ge=0, le=23)  # UTC
    memory_prune_minute: int = Field(default=0, ge=0, le=59)
    memory_prune_batch_size: int = Field(default=1000, ge=1, le=100_000)
    # Unset: the values calibrated for the configured model (app/memory/embeddings.py).
    memory_similarity_floor: float | None = Field(default=None, ge=0, le=1)
    memory_duplicate_threshold: float | None = Field(default=None, gt=0, le=1)
    # Users with at most this many embedded memories are searched exactly; above it, the HNSW
    # index with this ef_search (pgvector filters by user after the index scan).
    memory_exact_search_max_rows: int = Field(default=5_000, ge=0)
    memory_hnsw_ef_search: int = Field(default=1000, ge=10, le=1000)
    # With pgvector >= 0.8 (detected at start-up) the HNSW search scans iteratively instead.
    memory_hnsw_iterative_ef_search: int = Field(default=100, ge=10, le=1000)
    # How the dense and lexical rankings are fused: reciprocal rank fusion, or a score blend.
    memory_fusion: Literal["rrf", "blend"] = "rrf"

    # --- companion "Eliza" (docs/companion.md) ------------------------------------------
    # auto: the OpenAI-compatible model when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline.
    companion_provider: Literal["auto", "openai", "offline"] = "auto"
    companion_model: str = "gpt-4o-mini"
    # auto: the model classifies the emotion when one is configured (one extra call per turn).
    companion_emotion_detection: Literal["auto", "offline"] = "auto"
    companion_temperature: float = Field(default=0.7, ge=0, le=2)
    companion_max_tokens: int = Field(default=800, ge=16, le=16_000)
    # Per request to the model (connect and between streamed chunks), and retries before a token.
    companion_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    companion_max_retries: int = Field(default=2, ge=0, le=10)
    # The whole reply (emotion, recall, generation) must finish within this.
    companion_reply_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    companion_chat_rate_limit_per_minute: int = Field(default=20, ge=1)
    companion_stream_ttl_seconds: int = Field(default=3600, ge=60)
    companion_sse_keepalive_seconds: float = Field(default=15.0, gt=0, le=300)
    # On shutdown, background work in flight (streamed replies) gets this long before cancellation.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=300)

    # --- goals, missions, progress (docs/goals.md) -------------------------------------
    # The nightly orchestration keeps at least this many pending missions per active goal.
    missions_pending_target: int = Field(default=5, ge=0, le=50)
    # An unapproved decomposition proposal can be approved for this long.
    decomposition_proposal_ttl_hours: int = Field(default=72, ge=1, le=24 * 90)
    # The whole model-backed decomposition (first answer plus one repair round) must finish within this.
    decomposition_timeout_seconds: float = Field(default=90.0, gt=0, le=600)
    # POST /goals/{id}/decompose per user per minute (it may call a paid model).
    decompose_rate_limit_per_minute: int = Field(default=5, ge=1)

    # --- nudges and notifications (docs/nudges.md) --------------------------------------
    # Where the service is reached from outside: links in emails (unsubscribe) are built on it.
    public_base_url: str = "http://127.0.0.1:8000"
    # smtp://[user:pass@]host[:port] (STARTTLS when offered, required with credentials) or
    # smtps://... (TLS from the start). Unset: no email channel (email notes are suppressed).
    notify_smtp_url: SecretStr | None = None
    notify_email_from: str | None = None
    notify_smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # A CA bundle to trust for the SMTP server's certificate (a private relay); default: the system's.
    notify_smtp_ca_file: str | None = None
    # Signs unsubscribe links; unset: derived from CLERK_SECRET_KEY.
    notify_signing_secret: SecretStr | None = None
    notify_unsubscribe_ttl_days: int = Field(default=30, ge=1, le=365)
    # Delivery attempts per note before it is failed, and the first retry's delay (then doubling).
    notify_max_attempts: int = Field(default=5, ge=1, le=20)
    notify_retry_base_seconds: int = Field(default=600, ge=1, le=86_400)
    # Per user, all channels together; nudge_frequency=gentle halves them (at least 1).
    nudge_daily_cap: int = Field(default=2, ge=0, le=50)
    nudge_weekly_cap: int = Field(default=10, ge=0, le=200)
    # Local-time defaults for users who set none, HH:MM (quiet hours START-END may wrap midnight).
    nudge_send_time: str = Field(default="10:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    nudge_quiet_hours: str = Field(
        default="22:00-08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
    )
    # When the streak-at-risk note goes out, local time (late in the day).
    nudge_streak_note_time: str = Field(default="19:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    nudge_sweep_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Activity is written at most once per user per this many seconds (Redis-coalesced).
    nudge_activity_coalesce_seconds: int = Field(default=300, ge=0, le=3600)

    # --- workers ------------------------------------------------------------------------
    # Health reports the worker not_seen once this passes without a beat (one a minute); as low as
    # 1 s so the expiry itself can be exercised.
    worker_heartbeat_ttl_seconds: int = Field(default=300, ge=1)

    @field_validator("cors_origins", "clerk_authorized_parties", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("database_url")
    @classmethod
    def _database_url_is_usable(cls, value: str) -> str:
        try:
            to_async_url(value)
        except DatabaseURLError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("clerk_jwt_key")
    @classmethod
    def _jwt_key_is_rsa(cls, value: str | None) -> str | None:
        if value:
            try:
                load_public_key(value)
            except ValueError as exc:
                raise ValueError(f"not a PEM RSA public key ({exc})") from None
        return value or None

    @model_validator(mode="after")
    def _embedding_provider_is_usable(self) -> Settings:
        if self.embedding_provider == "local" and self.embedding_dimensions != LOCAL_EMBEDDING_DIMENSIONS:
            raise ValueError(
                f"EMBEDDING_DIMENSIONS={self.embedding_dimensions} but the local embedding model produces "
                f"{LOCAL_EMBEDDING_DIMENSIONS}-dimensional vectors (set EMBEDDING_PROVIDER=openai or "
                f"EMBEDDING_DIMENSIONS={LOCAL_EMBEDDING_DIMENSIONS})"
            )
        if self.embedding_provider == "openai" and self.openai_api_key is None and not self.openai_base_url:
            raise ValueError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (or an OPENAI_BASE_URL)")
        return self

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL such as https://api.example.com")
        return value.rstrip("/")

    @field_validator("notify_smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
        return value

    @model_validator(mode="after")
    def _email_sender(self) -> Settings:
        if self.notify_smtp_url is not None and not self.notify_email_from:
            raise ValueError("NOTIFY_SMTP_URL is set but NOTIFY_EMAIL_FROM (the sender address) is not")
        return self

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.environment is not Environment.production:
            return self
        bad = [
            name.upper()
            for name in ("clerk_secret_key", "clerk_webhook_secret")
            if _is_placeholder(getattr(self, name).get_secret_value())
        ]
        if self.openai_api_key is not None and _is_placeholder(self.openai_api_key.get_secret_value()):
            bad.append("OPENAI_API_KEY")
        if self.notify_signing_secret is not None and _is_placeholder(
            self.notify_signing_secret.get_secret_value()
        ):
            bad.append("NOTIFY_SIGNING_SECRET")
        if bad:
            raise ValueError(f"placeholder secrets are not allowed in production: {', '.join(bad)}")
        if self.notify_smtp_url is not None and not self.public_base_url.startswith("https://"):
            raise ValueError("PUBLIC_BASE_URL must be https:// in production (emails link to it)")
        if self.clerk_jwt_key and is_development_key(load_public_key(self.clerk_jwt_key)):
            raise ValueError("CLERK_JWT_KEY is a `delight dev` development key; production needs Clerk's key")
        return self

    @cached_property
    def async_database(self) -> AsyncDatabaseURL:
        return to_async_url(self.database_url)

    @property
    def async_database_url(self) -> str:
        return self.async_database.url

    @property
    def authorized_parties(self) -> list[str]:
        """``CLERK_AUTHORIZED_PARTIES``, defaulting to the CORS origins (the web app's origins)."""
        if self.clerk_authorized_parties is not None:
            return self.clerk_authorized_parties
        return self.cors_origins

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    @property
    def docs_enabled(self) -> bool:
        """``API_DOCS_ENABLED``, defaulting to on everywhere but production (fail closed)."""
        if self.api_docs_enabled is not None:
            return self.api_docs_enabled
        return not self.is_production

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment in (Environment.production, Environment.staging)
        return self.log_format == "json"


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDER_SECRETS or "..." in lowered or "your_" in lowered or "replace" in lowered


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's error list into one readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    missing: list[str] = []
    invalid: list[str] = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper() or "SETTINGS"
        if error["type"] == "missing":
            missing.append(name)
        else:
            invalid.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
    lines = []
    if missing:
        lines.append("missing required environment variables: " + ", ".join(missing))
    lines.extend("invalid setting " + item for item in invalid)
    return "Delight cannot start: " + "; ".join(lines) + " (see packages/backend/.env.example)"
