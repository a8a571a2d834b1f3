"""The whole configuration tree: one field per section."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .access import AdminSettings, CreditSettings, LimitSettings, SecuritySettings
from .base import Strict
from .billing import BillingSettings
from .models import ModelSettings
from .observe import AccessLogSettings, AlertSettings, MetricsSettings, OtelSettings
from .server import DatabaseSettings, LogSettings, ResponsesSettings, ServerSettings
from .shared_state import CacheSettings, RedisSettings
from .upstream import ProviderSettings, RoutingSettings, UpstreamSettings


class Settings(Strict):
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
