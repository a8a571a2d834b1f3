"""Which model family a Vertex AI target is, and the URL of its publisher-model method. Pure.

Region: config `region` (VERTEX_LOCATION / GOOGLE_CLOUD_LOCATION), else `global` when config `cross_region`
is truthy, else `default_region`, else us-central1 (Helicone's default for every Vertex model). Region
`global` is served by the host `aiplatform.googleapis.com`; every other region by
`{region}-aiplatform.googleapis.com`.

Project: config `project` (VERTEX_PROJECT / GOOGLE_CLOUD_PROJECT) or `project_id`, else the `project_id` of
an inline service-account JSON. When neither is known the URL keeps a `{project}` placeholder, which
`sign` fills from a credentials file (or rejects).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import quote

import orjson

from ..base import Target, UpstreamError

Family = Literal["gemini", "claude"]

DEFAULT_REGION = "us-central1"
DEFAULT_BASE = "https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}"
PROJECT_PLACEHOLDER = "{project}"
_GEMINI_FAMILIES = frozenset({"gemini", "google"})
_CLAUDE_FAMILIES = frozenset({"anthropic", "claude"})


def model_id(target: Target) -> str:
    """The bare model id: `publishers/google/models/gemini-2.5-pro` and `models/x` forms are accepted."""
    model = target.model
    if "/models/" in model:
        model = model.rsplit("/models/", 1)[1]
    return model.removeprefix("models/")


def family(target: Target) -> Family | None:
    """`gemini`, `claude`, or None for a model this provider cannot serve. Config `family` wins."""
    configured = str(target.config.get("family") or "").lower()
    if configured in _GEMINI_FAMILIES:
        return "gemini"
    if configured in _CLAUDE_FAMILIES:
        return "claude"
    model = model_id(target).lower()
    if model.startswith("gemini"):
        return "gemini"
    if model.startswith("claude"):
        return "claude"
    return None


def require_family(target: Target) -> Family:
    fam = family(target)
    if fam is None:
        raise UpstreamError(
            400,
            "unsupported",
            f"Vertex AI model {target.model!r} is neither a Gemini nor a Claude model; this gateway only "
            "serves those two families on Vertex (set providers.vertex config `family` if the id hides it)",
        )
    return fam


def region(target: Target) -> str:
    cfg = target.config
    if cfg.get("region") or cfg.get("location"):  # Google calls it a location
        return str(cfg.get("region") or cfg["location"])
    if _truthy(cfg.get("cross_region")):
        return "global"
    return str(cfg.get("default_region") or DEFAULT_REGION)


def project(target: Target) -> str | None:
    cfg = target.config
    value = cfg.get("project") or cfg.get("project_id")
    if value:
        return str(value)
    key = (target.api_key or "").strip()
    return _inline_project(key) if key.startswith("{") else None


@lru_cache(maxsize=32)
def _inline_project(key: str) -> str | None:
    try:
        info = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    value = info.get("project_id") if isinstance(info, dict) else None
    return value if isinstance(value, str) and value else None


def base_url(target: Target) -> str:
    """`.../v1/projects/{project}/locations/{region}` filled in (`{project}` stays if unknown).

    Config `endpoint` overrides the template (private endpoints, tests)."""
    reg = region(target)
    url = str(target.config.get("endpoint") or target.base_url or DEFAULT_BASE).rstrip("/")
    if reg == "global":
        url = url.replace("{region}-aiplatform.googleapis.com", "aiplatform.googleapis.com")
    url = url.replace("{region}", reg)
    proj = project(target)
    if proj:
        url = url.replace(PROJECT_PLACEHOLDER, quote(proj, safe="-._~"))
    return url


def method_url(target: Target, fam: Family, stream: bool) -> str:
    model = quote(model_id(target), safe="-._~@")
    if fam == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base_url(target)}/publishers/google/models/{model}:{method}"
    method = "streamRawPredict" if stream else "rawPredict"
    return f"{base_url(target)}/publishers/anthropic/models/{model}:{method}"


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "global")
    return bool(value)
