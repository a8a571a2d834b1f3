"""Configuration: one YAML file (with `${VAR}` / `${VAR:-default}` interpolation) → frozen, validated settings.

Resolution: `--config PATH`, else `$SWITCHYARD_CONFIG`, else no file (embedded defaults). Home directory for
embedded state: `$SWITCHYARD_HOME`, else `./.switchyard`. A bad file fails the start with a message that
names the bad field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .providers.formats import FORMATS
from .providers.request_head import header_problem


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=256)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    graceful_shutdown_seconds: float = Field(30.0, ge=0)
    # Request line + headers of one request, in bytes; over it: 431 and the connection is closed.
    max_header_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Time for a request's headers to arrive (from the first byte, or from the connection for a silent one): 408.
    header_timeout_seconds: float = Field(30.0, gt=0)
    # Time to receive a whole request body once the gateway starts reading it: 408 (connection closed).
    body_timeout_seconds: float = Field(30.0, gt=0)
    # Per process. Connections over the cap get 503 + Retry-After at once; requests over the in-flight cap get
    # 503 + Retry-After in the caller's error shape (health and metrics are exempt).
    max_connections: int = Field(2048, ge=1)
    max_in_flight: int = Field(1024, ge=1)


class DatabaseSettings(_Strict):
    url: str | None = None  # default: sqlite:///$SWITCHYARD_HOME/switchyard.db
    # PostgreSQL only: the schema to use (created by `migrate` if missing), so several deployments can share one database.
    schema_name: str | None = Field(None, alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sqlite|postgres(ql)?)(\+\w+)?://", v):
            raise ValueError("must start with sqlite:// or postgresql://")
        return v


class ProviderSettings(_Strict):
    """A built-in provider override or a new (custom) provider."""

    format: str | None = None  # a wire format of `providers/formats.py`'s table
    base_url: str | None = None
    api_key: str | None = None
    auth: Literal["bearer", "x-api-key", "api-key", "goog-api-key", "query-key", "none"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    completions: bool | None = None  # serves legacy /completions natively
    embeddings: bool | None = None
    priority: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)  # region, deployment, api_version, ...
    # Per-provider upstream timeouts (seconds); unset: the `upstream` defaults.
    connect_timeout: float | None = Field(None, gt=0)
    first_byte_timeout: float | None = Field(None, gt=0)
    total_timeout: float | None = Field(None, gt=0)

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str | None) -> str | None:
        if v is not None and v not in FORMATS:
            raise ValueError(f"unknown wire format {v!r}; known: {', '.join(FORMATS)}")
        return v

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            problem = header_problem(name, value)
            if problem:
                raise ValueError(problem)
        return v


class LogSettings(_Strict):
    queue_size: int = Field(20_000, ge=10)
    batch_size: int = Field(500, ge=1)
    # How often queued records are written ahead to the spool and inserted: a SIGKILL loses at most the records
    # answered in the last interval (observe/sink.py; bench/sigkill_loss.py measures it).
    flush_interval_ms: int = Field(50, ge=1)
    # Write every batch to a spool file (no fsync) before inserting it, so a killed process loses nothing older
    # than flush_interval_ms. false: records wait in memory until inserted (a SIGKILL loses all of them).
    write_ahead: bool = True
    spool_dir: str | None = None  # default: $SWITCHYARD_HOME/spool
    store_bodies: bool = True
    # Bodies longer than this (UTF-8 bytes) are cut to it, with a "[truncated ...]" marker, before they are logged.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # Requests (with properties, feedback, scores), sessions and rollups older than this many days are deleted in
    # the background in small batches (stores/retention.py). 0: keep everything.
    retention_days: int = Field(0, ge=0)


MIN_SECRET_LENGTH = 32  # characters of a master key, admin key or metrics token (security.MIN_SECRET_LENGTH)


def _long_secret(value: str | None, what: str) -> str | None:
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{what} is {len(value)} characters long; it must be at least {MIN_SECRET_LENGTH} "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value


class SecuritySettings(_Strict):
    # Master secret for key hashing (HMAC) and provider-key encryption (AES-GCM). Embedded default: a
    # random secret generated once into $SWITCHYARD_HOME/master.key. Replicas must share one value; a process
    # whose secret differs from the one the database was set up with refuses to start (security.verify_master).
    master_key: str | None = None

    # Hosts an organisation's own provider keys (BYOK) may send requests to, per provider id: patterns
    # `[http://|https://]host[:port|:*]`, `*` within one DNS label. A provider listed here replaces its built-in
    # list (Azure, Bedrock and Vertex cloud hosts; none for other formats). See pipeline/byok_egress.py.
    byok_endpoints: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("master_key")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return _long_secret(v, "the master key")

    @field_validator("byok_endpoints")
    @classmethod
    def _patterns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from .pipeline.byok_egress import Pattern  # the one parser; refused patterns stop the start

        for patterns in v.values():
            for p in patterns:
                Pattern.parse(p)
        return v


class UpstreamSettings(_Strict):
    connect_timeout: float = Field(10.0, gt=0)
    # Long by default: reasoning models can think for many minutes before the first byte.
    first_byte_timeout: float = Field(600.0, gt=0)
    total_timeout: float = Field(3600.0, gt=0)
    pool_size: int = Field(512, ge=1)  # idle keep-alive connections kept per upstream host
    # Open connections per upstream host (scheme, host, port); a request past it waits for one to come free.
    max_connections_per_host: int = Field(1024, ge=1)
    # Body bytes of one upstream response (streamed or not), and what a gzip/deflate body may expand to.
    max_response_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    # An idle keep-alive connection is not reused after this many seconds (nor after the upstream's own
    # `Keep-Alive: timeout` less one second).
    idle_timeout: float = Field(50.0, gt=0)


class RetrySettings(_Strict):
    """Retries of one attempt before moving to the next (Helicone-Retry-* headers override per request)."""

    enabled: bool = False
    num: int = Field(2, ge=0, le=10)
    factor: float = Field(2.0, ge=1.0, le=10.0)
    min_timeout_ms: int = Field(1000, ge=0)
    max_timeout_ms: int = Field(10_000, ge=0)


class BreakerSettings(_Strict):
    """Circuit breaker per provider endpoint and key."""

    failures: int = Field(5, ge=1)  # consecutive failures that open the circuit
    open_seconds: float = Field(30.0, gt=0)  # first ejection; doubles on each failed half-open probe
    max_open_seconds: float = Field(300.0, gt=0)


class AffinitySettings(_Strict):
    """Session affinity (pipeline/session_pins.py): a session's requests go back to the endpoint and key that
    served its previous request, for as long as the provider keeps its prompt cache."""

    enabled: bool = True
    max_per_org: int = Field(10_000, ge=1)  # pins kept per organisation (least recently used dropped)
    # Pin lifetime per provider id (seconds), over the built-in prompt-cache lifetimes (session_pins.py).
    ttl_seconds: dict[str, float] = Field(default_factory=dict)


class RoutingSettings(_Strict):
    retries: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    affinity: AffinitySettings = Field(default_factory=AffinitySettings)


class RedisSettings(_Strict):
    """Shared state for replicas: cache, rate limits, budgets, key-cache invalidation. Unset: in-process."""

    url: str | None = None
    # What limits do while Redis is unreachable: "open" admits (and counts in process), "closed" answers 503.
    on_failure: Literal["open", "closed"] = "open"
    # How long one Redis call may take before it counts as a failure. Generous on purpose: a replica whose event
    # loop is saturated sees slow answers from a healthy Redis, and failing open then would count per replica.
    timeout_ms: int = Field(1000, ge=10)
    key_prefix: str = "switchyard:"

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^rediss?://", v):
            raise ValueError("must start with redis:// or rediss://")
        return v


class CacheSettings(_Strict):
    """The response cache (Helicone-Cache-Enabled). In-process LRU unless redis.url is set."""

    max_entries: int = Field(10_000, ge=1)
    max_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    max_entry_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # larger answers are not stored


class AdminSettings(_Strict):
    # The admin API (/admin/v1/...) answers only to this key (Authorization: Bearer ...). Unset: disabled.
    key: str | None = None

    @field_validator("key")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return _long_secret(v, "the admin key (admin.key or SWITCHYARD_ADMIN_KEY)")


class MetricsSettings(_Strict):
    # GET /metrics answers only to `Authorization: Bearer <token>` when set (e.g. "${SWITCHYARD_METRICS_TOKEN}");
    # unset: open, as Prometheus scrapes usually are on a private network.
    token: str | None = None
    # With `serve --workers N`, each worker writes its totals for the others to read this often (a scrape sees
    # other workers' counts at most this old; its own are always current).
    flush_interval_ms: int = Field(1000, ge=50, le=60_000)

    @field_validator("token")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return _long_secret(v, "the metrics token")


class AccessLogSettings(_Strict):
    # "json": one JSON line per proxied request on standard output (id, org, model, provider, status, latency,
    # tokens, cost), for log shippers; "off": none.
    format: Literal["off", "json"] = "off"


class OtelSettings(_Strict):
    # OpenTelemetry traces (GenAI conventions) exported over OTLP/HTTP to this base URL (".../v1/traces" is
    # appended), e.g. "http://collector:4318"; unset: $OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing at all.
    endpoint: str | None = None
    service_name: str = "switchyard"
    capture_content: bool = False  # prompts and completions as span attributes (gen_ai.input/output.messages)
    schedule_delay_ms: int = Field(1000, ge=10, le=60_000)  # how often the batch processor exports


class AlertSettings(_Strict):
    # How often alert rules are evaluated (one replica at a time, under a lease in the database).
    interval_seconds: float = Field(10.0, gt=0, le=15)


METER_KINDS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost_micro_usd")


class StripeMeterSettings(_Strict):
    """Usage per `Helicone-Stripe-Customer-Id` sent to Stripe as meter events (observe/stripe_meter.py)."""

    # "${STRIPE_SECRET_KEY}": a secret (sk_...) or restricted (rk_...) key. Unset or empty: nothing is sent.
    secret_key: str | None = Field(None, repr=False)
    api_base: str | None = None  # default Stripe's own; a test stand-in's address in tests
    # What is sent, as {kind: Stripe meter event_name}; kinds: requests, prompt_tokens, completion_tokens,
    # total_tokens, cost_micro_usd (USD x 1,000,000). One event per organisation, customer, period and kind.
    meters: dict[Literal[METER_KINDS], str] = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"total_tokens": "switchyard_tokens"}
    )
    customer_payload_key: str = "stripe_customer_id"  # the meter's customer_mapping.event_payload_key
    value_payload_key: str = "value"  # the meter's value_settings.event_payload_key
    interval_seconds: int = Field(3600, ge=1, le=86_400)  # period length (periods are aligned to the epoch)
    settle_seconds: float = Field(120.0, ge=0)  # a period is sent this long after it ends (late log rows)
    poll_seconds: float = Field(30.0, gt=0)  # how often a replica looks for closed periods
    max_network_retries: int = Field(2, ge=0, le=10)  # the stripe client's own retries of one request
    retry_max_seconds: float = Field(300.0, gt=0)  # cap of the backoff between failed rounds
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("secret_key")
    @classmethod
    def _key_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sk|rk)_[A-Za-z0-9_]{8,}$", v):
            raise ValueError(
                "must be a Stripe secret key (sk_...) or restricted key (rk_...)"
            )  # never echoed
        return v

    @field_validator("api_base")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+/?$", v):
            raise ValueError("must be a scheme and host, e.g. https://api.stripe.com")
        return v.rstrip("/") if v else v

    @field_validator("meters")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for kind, name in v.items():
            if not name or len(name) > 100:
                raise ValueError(f"meters.{kind}: an event_name of 1 to 100 characters")
        return v


class BillingSettings(_Strict):
    stripe: StripeMeterSettings = Field(default_factory=StripeMeterSettings)


class CreditSettings(_Strict):
    # A reservation left by a crashed process is released after this long.
    reservation_ttl_seconds: int = Field(3600, ge=60)


class LimitSettings(_Strict):
    """Rate limits and budgets (pipeline/limits.py) and what every request is checked against before any attempt."""

    # Largest `n` (chat, completions) and `best_of` (completions) a request may ask for; above: 400 `invalid_n`.
    # 128 is OpenAI's own maximum for `n`, so no request OpenAI accepts is refused; lower it to taste.
    max_n: int = Field(128, ge=1)
    # A USD budget or `u=cents` policy refuses calls on the gateway's own provider keys whose price is unknown
    # (400 `price_unknown`): their cost could not be counted. true: admit them, counted as $0 (the old behaviour).
    allow_unpriced: bool = False
    # Longest window a Helicone-RateLimit-Policy header may ask for; longer is a 400. 31 days.
    max_policy_window_seconds: int = Field(31 * 24 * 3600, ge=1, le=366 * 24 * 3600)
    # Live per-user / per-property counters per gateway key (header policies) and per organisation (configured
    # limits); past it the least recently used one is dropped (that user starts a fresh window).
    max_segment_counters: int = Field(10_000, ge=16)


class DeploymentPrice(_Strict):
    """USD per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)


class DeploymentSettings(_Strict):
    price: DeploymentPrice | None = None
    context: int | None = Field(None, ge=1)
    max_output: int | None = Field(None, ge=1)


class ModelSettings(_Strict):
    # "<model>/<provider>" → price (and window) of a model the registry lacks (a fine-tune, a custom deployment),
    # or an override of a registry endpoint's price. Priced calls are logged with a cost and can run under budgets.
    deployments: dict[str, DeploymentSettings] = Field(default_factory=dict)
    # name → any model string (a chain included), expanded by the planner before Helicone's grammar.
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, str]) -> dict[str, str]:
        from .pipeline.aliases import (
            check_aliases,  # pure; imported here to keep config free of pipeline at import
        )

        check_aliases(v)
        return v

    @field_validator("deployments")
    @classmethod
    def _names(cls, v: dict[str, DeploymentSettings]) -> dict[str, DeploymentSettings]:
        for name in v:
            model, _, provider = name.rpartition("/")
            if not model.strip() or not provider.strip() or "," in name:
                raise ValueError(f"'{name}' must be '<model>/<provider>' (e.g. my-deployment/openai)")
        return v


class ResponsesSettings(_Strict):
    # Responses API answers of bridged providers (Claude, Gemini, ...) are kept this many days, per organisation,
    # so `previous_response_id` and `item_reference` work as on OpenAI (pipeline/responses_state.py).
    # 0: nothing is kept and such requests get a 400. `store: false` on a request keeps nothing either way.
    retention_days: int = Field(30, ge=0, le=3650)


class Settings(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    log: LogSettings = Field(default_factory=LogSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    credits: CreditSettings = Field(default_factory=CreditSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    access_log: AccessLogSettings = Field(default_factory=AccessLogSettings)
    otel: OtelSettings = Field(default_factory=OtelSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    home: str = ""  # resolved at load time; not a config key users normally set

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.home_path / 'switchyard.db'}"

    @property
    def spool_path(self) -> Path:
        return Path(self.log.spool_dir) if self.log.spool_dir else self.home_path / "spool"


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str], where: str = "") -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            return ""  # an unset secret becomes empty: the provider then reports the missing key clearly

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _blank_to_none(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _blank_to_none(v) for k, v in tree.items()}
    if tree == "":
        return None
    return tree


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = path or env.get("SWITCHYARD_CONFIG") or None
    raw: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: the top level must be a mapping")
        raw = _blank_to_none(interpolate(loaded, env))
    home = env.get("SWITCHYARD_HOME") or str(Path.cwd() / ".switchyard")
    raw["home"] = str(Path(home).resolve())
    admin_key = env.get("SWITCHYARD_ADMIN_KEY")
    if admin_key:  # the admin API's key from the environment, unless the file sets admin.key
        admin = raw.get("admin")
        if admin is None:
            raw["admin"] = {"key": admin_key}
        elif isinstance(admin, dict) and not admin.get("key"):
            raw["admin"] = {**admin, "key": admin_key}
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            problems.append(f"{loc}: {err['msg']}")
        raise ConfigError(f"invalid config {path or ''}: " + "; ".join(problems)) from None
