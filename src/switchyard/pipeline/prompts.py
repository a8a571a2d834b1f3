"""Managed prompts at request time: a chat body with `prompt_id` becomes the saved version's body, expanded.

Called from the chat route only when the body has `prompt_id` (one dict lookup on the hot path otherwise),
right after parsing, so everything after (routing, translation to every provider, caching, streaming) sees an
ordinary chat body. Version: `environment` if given, else `version_id`, else production. Errors are 400s in the
caller's shape. `Helicone-Gateway-Body-Mapping: NO_MAPPING` leaves the body alone; the Responses mapping with a
prompt is refused, as Helicone does (prompts are a Chat Completions feature).

Resolutions are cached per (org, prompt, environment or version); the store's revision (it grows with every
deploy) is read at most once a second and a change drops the cache. Changes made through this process's admin
API drop it at once (`invalidate`).

The log row gets the prompt id in its `prompt_id` column (filterable in the query API) and the version,
environment and inputs as properties `helicone-prompt-version-id`, `helicone-prompt-environment`,
`helicone-prompt-inputs` (JSON; not kept with `Helicone-Omit-Request: true` or `log.store_bodies: false`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..errors import GatewayError, bad_request
from ..stores.base import StoreUnavailable
from ..stores.sql_prompts import PRODUCTION, PromptStore, PromptVersion
from .prompt_template import TemplateError, fill_variables, merge, resolve_partials

MAPPING_HEADER = "helicone-gateway-body-mapping"
_POLL_SECONDS = 1.0
_MAX_CACHED = 10_000  # resolutions kept ...
_MAX_CACHED_BYTES = 64 << 20  # ... and their bodies' JSON size at most (a saved body may be up to 1 MiB)


def _name(body: dict[str, Any], field: str) -> str | None:
    v = body.get(field)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > 64:
        raise bad_request(
            f"'{field}' must be a non-empty string of at most 64 characters.",
            code="invalid_prompt",
            param=field,
        )
    return v.strip()


class Prompts:
    def __init__(self, store: PromptStore, *, log_inputs: bool = True) -> None:
        self.store = store
        # log.store_bodies: inputs are request content, kept only when bodies are
        self.log_inputs = log_inputs
        self._cache: dict[tuple[str, str, str], PromptVersion] = {}
        self._bytes = 0
        self._revision: int | None = None
        self._checked = 0.0

    def invalidate(self) -> None:
        self._drop()
        self._checked = 0.0

    def _drop(self) -> None:
        self._cache.clear()
        self._bytes = 0

    async def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < _POLL_SECONDS:
            return
        self._checked = now
        rev = await self.store.revision()
        if rev != self._revision:
            self._drop()
            self._revision = rev

    async def version(
        self, org_id: str, prompt_id: str, environment: str | None, version_id: str | None
    ) -> PromptVersion | None:
        await self._fresh()
        key = (
            org_id,
            prompt_id,
            f"env:{environment}" if environment or not version_id else f"v:{version_id}",
        )
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if environment or not version_id:
            v = await self.store.resolve(org_id, prompt_id, environment or PRODUCTION)
        else:
            v = await self.store.version(org_id, prompt_id, version_id)
        if v is not None:
            size = len(orjson.dumps(v.body))
            if len(self._cache) >= _MAX_CACHED or self._bytes + size > _MAX_CACHED_BYTES:
                self._drop()
            self._cache[key] = v
            self._bytes += size
        return v

    async def expand(self, ctx: Any, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        mapping = headers.get(MAPPING_HEADER, "").strip().upper()
        if mapping == "NO_MAPPING":
            return body
        if mapping == "RESPONSES" or ("messages" not in body and "input" in body):
            raise bad_request(
                "Prompts (prompt_id) are served on Chat Completions only; they cannot be combined "
                "with the Responses API mapping.",
                code="invalid_prompt",
                param="prompt_id",
            )
        prompt_id = _name(body, "prompt_id")
        if prompt_id is None:
            raise bad_request(
                "'prompt_id' must be a non-empty string.", code="invalid_prompt", param="prompt_id"
            )
        environment, version_id = _name(body, "environment"), _name(body, "version_id")
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise bad_request(
                "'inputs' must be an object of variable names to values.",
                code="invalid_prompt",
                param="inputs",
            )
        org_id = ctx.principal.org.id
        try:
            v = await self.version(org_id, prompt_id, environment, version_id)
        except StoreUnavailable:
            raise GatewayError(
                503, "The prompt store is unavailable; try again shortly.", code="store_unavailable"
            ) from None
        if v is None:
            where = (
                f"version {version_id!r}"
                if version_id and not environment
                else f"environment {environment or PRODUCTION!r}"
            )
            raise bad_request(
                f"Prompt {prompt_id!r} not found ({where}).", code="prompt_not_found", param="prompt_id"
            )

        async def lookup(pid: str, env: str) -> dict[str, Any] | None:
            other = await self.version(org_id, pid, env, None)
            return other.body if other is not None else None

        try:
            saved = fill_variables(await resolve_partials(v.body, lookup), inputs)
        except StoreUnavailable:
            raise GatewayError(
                503, "The prompt store is unavailable; try again shortly.", code="store_unavailable"
            ) from None
        except TemplateError as e:
            raise bad_request(str(e), code="invalid_prompt_inputs", param="inputs") from None
        h = ctx.helicone
        h.prompt_id = prompt_id
        h.properties["helicone-prompt-id"] = prompt_id
        h.properties["helicone-prompt-version-id"] = v.id
        h.properties["helicone-prompt-environment"] = environment or ("" if version_id else PRODUCTION)
        if (
            inputs and self.log_inputs and not h.omit_request
        ):  # Helicone-Omit-Request drops them with the body
            h.properties["helicone-prompt-inputs"] = orjson.dumps(inputs).decode()
        if not h.properties["helicone-prompt-environment"]:
            del h.properties["helicone-prompt-environment"]
        return merge(saved, body)
