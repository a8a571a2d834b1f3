"""Configuration: one YAML file (with `${VAR}` / `${VAR:-default}` interpolation) → frozen, validated settings.

`load.py` reads and validates the file into `settings.Settings`, whose sections live by concept: `server`
(listener, database, request log), `upstream` (providers, timeouts, retries, breaker, affinity), `models`
(deployments, aliases), `access` (secrets, admin key, limits, credits), `shared_state` (Redis, response cache),
`observe` (metrics, access log, traces, alerts), `billing` (Stripe meters). A bad file fails the start with a
message that names the bad field.

This package's names are the configuration API: import settings classes from `switchyard.config`.
"""

from __future__ import annotations

from .access import AdminSettings, CreditSettings, LimitSettings, SecuritySettings
from .base import MIN_SECRET_LENGTH, ConfigError
from .billing import METER_KINDS, BillingSettings, StripeMeterSettings
from .load import interpolate, load_settings
from .models import DeploymentPrice, DeploymentSettings, ModelSettings
from .observe import AccessLogSettings, AlertSettings, MetricsSettings, OtelSettings
from .server import DatabaseSettings, LogSettings, ResponsesSettings, ServerSettings
from .settings import Settings
from .shared_state import CacheSettings, RedisSettings
from .upstream import (
    AffinitySettings,
    BreakerSettings,
    ProviderSettings,
    RetrySettings,
    RoutingSettings,
    UpstreamSettings,
)

__all__ = [
    "METER_KINDS",
    "MIN_SECRET_LENGTH",
    "AccessLogSettings",
    "AdminSettings",
    "AffinitySettings",
    "AlertSettings",
    "BillingSettings",
    "BreakerSettings",
    "CacheSettings",
    "ConfigError",
    "CreditSettings",
    "DatabaseSettings",
    "DeploymentPrice",
    "DeploymentSettings",
    "LimitSettings",
    "LogSettings",
    "MetricsSettings",
    "ModelSettings",
    "OtelSettings",
    "ProviderSettings",
    "RedisSettings",
    "ResponsesSettings",
    "RetrySettings",
    "RoutingSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "StripeMeterSettings",
    "UpstreamSettings",
    "interpolate",
    "load_settings",
]
