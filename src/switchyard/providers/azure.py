"""Azure OpenAI: the OpenAI wire format on deployment URLs.

URL: `{endpoint}/openai/deployments/{deployment}/{path}?api-version={api_version}`, auth header `api-key`.
`endpoint` is `providers.azure.base_url`, or `config.endpoint` (env AZURE_OPENAI_ENDPOINT), or
`https://{config.resource}.openai.azure.com`; the deployment is `config.deployment`, else the provider model id
(Helicone's default); `api_version` from config (env AZURE_OPENAI_API_VERSION), else the registry default.
The deployment (which may come from the caller's model string) is percent-encoded as one path segment and
the API version as one query value, so neither can change the path or the query that carries the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from .base import Target, UpstreamRequest, path_segment
from .credentials import CredentialSpec
from .openai import OpenAIProvider, auth_headers

DEFAULT_API_VERSION = "2025-01-01-preview"


def azure_endpoint(target: Target) -> str | None:
    cfg = target.config
    base = target.base_url or cfg.get("endpoint")
    if not base and cfg.get("resource"):
        base = f"https://{cfg['resource']}.openai.azure.com"
    return str(base).rstrip("/") if base else None


class AzureProvider(OpenAIProvider):
    name = "azure"
    credentials = CredentialSpec(
        config=frozenset({"base_url", "endpoint", "resource", "deployment", "api_version"}),
        egress_hosts=("*.openai.azure.com", "*.cognitiveservices.azure.com", "*.services.ai.azure.com"),
    )
    needs_base_url = False  # endpoint or resource

    @classmethod
    def missing_setting(cls, provider_id: str, base_url: str | None, config: Mapping[str, Any]) -> str | None:
        if base_url or config.get("endpoint") or config.get("resource"):
            return None
        return f"set AZURE_OPENAI_ENDPOINT or providers.{provider_id}.base_url (https://<resource>.openai.azure.com)"

    def passthrough_request(self, body: dict[str, Any], target: Target, path: str) -> UpstreamRequest:
        cfg = target.config
        deployment = cfg.get("deployment") or target.model
        version = cfg.get("api_version") or DEFAULT_API_VERSION
        out = dict(body)
        out["model"] = target.model
        stream = out.get("stream") is True
        if stream and path != "responses":
            opts = out.get("stream_options")
            out["stream_options"] = (
                {**opts, "include_usage": True} if isinstance(opts, dict) else {"include_usage": True}
            )
        url = (
            f"{azure_endpoint(target)}/openai/deployments/{path_segment(str(deployment), 'Azure deployment')}/"
            f"{path}?api-version={quote(str(version), safe='')}"
        )
        return UpstreamRequest("POST", url, auth_headers(target), orjson.dumps(out), stream)
