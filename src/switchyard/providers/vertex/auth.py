"""OAuth2 access tokens for Vertex AI, minted with google-auth and cached per credential.

Where the credential comes from (first match wins):
1. config `access_token`: an OAuth access token used as is (no refresh; handy for tests and for tokens
   minted outside the gateway). `target.auth == "bearer"` treats `target.api_key` the same way.
2. config `credentials_file`: path to a service-account (or `authorized_user`) JSON file.
3. `target.api_key` (GOOGLE_APPLICATION_CREDENTIALS or providers.vertex.api_key): the JSON itself when it
   starts with `{`, an access token when it starts with `ya29.`, otherwise a path to the JSON file.

Tokens are refreshed through google-auth's synchronous transport in a worker thread (`asyncio.to_thread`),
so the event loop never blocks on Google's token endpoint; the `requests` transport is used when the
`requests` package is installed, else the `urllib3` one (urllib3 comes with botocore). A token is reused
until `REFRESH_MARGIN` seconds before it expires; one `asyncio.Lock` per credential makes concurrent
requests share a single refresh. No credential (key, token, file content or path) ever goes into an error
message or a log.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..base import Target, UpstreamError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN = 300.0  # seconds before expiry at which a cached token is replaced
DEFAULT_LIFETIME = 3600.0  # assumed when google-auth reports no expiry
MAX_ENTRIES = 64

_NO_CREDENTIALS = (
    "no Google credentials for Vertex AI: set GOOGLE_APPLICATION_CREDENTIALS (a service-account JSON file, "
    "or the JSON itself), or providers.vertex.config.credentials_file / access_token"
)
_ERROR_CODE = re.compile(r"^\W*([a-z_]{3,40})\b")
# An organisation's own (BYOK) credentials may only send their JWT to Google: google-auth posts to the JSON's
# `token_uri`, which would otherwise be a server-side request forgery chosen by whoever added the key.
GOOGLE_TOKEN_URIS = frozenset(
    {"https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token"}
)


def byok_key_problem(key: str) -> str | None:
    """Why an organisation's Vertex key is unacceptable, or None: JSON credentials with Google's token URI, or
    an access token (never a file path on the gateway's host, which would read the operator's credentials)."""
    key = key.strip()
    if key.startswith("ya29."):
        return None
    if not key.startswith("{"):
        return "a Vertex key must be the credentials JSON or an access token (ya29.…), not a file path"
    try:
        parsed = orjson.loads(key)
    except orjson.JSONDecodeError:
        return "the Vertex credentials are not valid JSON"
    if not isinstance(parsed, dict):
        return "the Vertex credentials are not a JSON object"
    uri = parsed.get("token_uri")
    if uri is not None and uri not in GOOGLE_TOKEN_URIS:
        return "the Vertex credentials' token_uri must be Google's (https://oauth2.googleapis.com/token)"
    return None


@dataclass(frozen=True, slots=True)
class Source:
    kind: str  # token | info | file
    value: str
    byok: bool = False  # an organisation's key: never a file path, token_uri must be Google's

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.kind}\0{self.byok}\0{self.value}".encode()).hexdigest()


def source(target: Target) -> Source:
    cfg = target.config
    if cfg.get("access_token"):
        return Source("token", str(cfg["access_token"]))
    key = (target.api_key or "").strip()
    if target.auth == "bearer" and key:
        return Source("token", key)
    if cfg.get("credentials_file"):
        return Source("file", str(cfg["credentials_file"]))
    byok = target.egress is not None
    if key.startswith("{"):
        return Source("info", key, byok)
    if key.startswith("ya29."):
        return Source("token", key)
    if key and byok:  # a path would read a file on the gateway's host (the operator's own credentials)
        raise UpstreamError(
            401,
            "auth",
            "an organisation's Vertex AI key must be the credentials JSON or an "
            "access token, not a file path",
        )
    if key:
        return Source("file", key)
    raise UpstreamError(401, "auth", _NO_CREDENTIALS)


def default_transport() -> Any:
    """A google-auth transport `Request`: requests-based if `requests` is importable, else urllib3."""
    try:
        from google.auth.transport.requests import Request
    except ImportError:  # `requests` is not a dependency of the gateway; urllib3 is (via botocore)
        import urllib3
        from google.auth.transport.urllib3 import Request as Urllib3Request

        return Urllib3Request(urllib3.PoolManager())
    return Request()


def credentials_from_info(info: Any) -> Any:
    """google-auth credentials (scope cloud-platform) from a parsed credentials JSON."""
    if not isinstance(info, dict):
        raise UpstreamError(401, "auth", "the Vertex AI credentials are not a JSON object")
    kind = info.get("type")
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        if kind == "authorized_user":
            from google.oauth2 import credentials

            return credentials.Credentials.from_authorized_user_info(info, scopes=list(SCOPES))
    except (ValueError, KeyError, TypeError):
        # google-auth's messages may quote fields of the JSON: say only what is wrong in general
        raise UpstreamError(
            401, "auth", f"the Vertex AI {kind} credentials are incomplete or malformed"
        ) from None
    shown = kind if isinstance(kind, str) and re.fullmatch(r"[a-z_]{1,40}", kind) else "?"
    raise UpstreamError(
        401,
        "auth",
        f"unsupported Google credentials type {shown!r} for Vertex AI: use a service-account JSON key",
    )


def _load(src: Source) -> tuple[Any, str | None]:
    """Credentials and the JSON's project_id. Blocking (may read a file): runs in a worker thread."""
    if src.kind == "file":
        try:
            with open(src.value, "rb") as fh:
                raw = fh.read()
        except OSError:
            raise UpstreamError(
                401,
                "auth",
                "cannot read the Vertex AI credentials file (GOOGLE_APPLICATION_CREDENTIALS / "
                "credentials_file): it does not exist or is not readable",
            ) from None
    else:
        raw = src.value.encode()
    try:
        info = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(401, "auth", "the Vertex AI credentials are not valid JSON") from None
    uri = info.get("token_uri") if isinstance(info, dict) else None
    if src.byok and uri is not None and not (isinstance(uri, str) and uri in GOOGLE_TOKEN_URIS):
        raise UpstreamError(
            401, "auth", "an organisation's Vertex AI credentials must name Google's token_uri"
        )
    creds = credentials_from_info(info)
    project = info.get("project_id") or info.get("quota_project_id")
    return creds, project if isinstance(project, str) and project else None


def _epoch(expiry: datetime.datetime | None) -> float | None:
    if expiry is None:
        return None
    if expiry.tzinfo is None:  # google-auth keeps naive UTC datetimes
        expiry = expiry.replace(tzinfo=datetime.UTC)
    return expiry.timestamp()


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    credentials: Any = None
    project: str | None = None
    transport: Any = None
    token: str | None = None
    expires_at: float = 0.0
    refreshes: int = 0  # how many times Google was asked (tests and metrics)


class TokenSource:
    """Access tokens per credential. `clock` is wall-clock seconds (token expiries are wall-clock)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        transport_factory: Callable[[], Any] = default_transport,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self._clock = clock
        self._transport_factory = transport_factory
        self._margin = margin
        self._entries: dict[str, _Entry] = {}

    def entry(self, target: Target) -> _Entry | None:
        """The cache entry of a target's credential, if one exists (None for plain access tokens)."""
        src = source(target)
        return None if src.kind == "token" else self._entries.get(src.key)

    async def get(self, target: Target) -> tuple[str, str | None]:
        """(access token, project_id from the credentials JSON or None)."""
        src = source(target)
        if src.kind == "token":
            return src.value, None
        entry = self._entries.get(src.key)
        if entry is None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            entry = self._entries[src.key] = _Entry()
        if entry.token and self._fresh(entry):
            return entry.token, entry.project
        async with entry.lock:
            if entry.token and self._fresh(entry):  # another request refreshed it while we waited
                return entry.token, entry.project
            if entry.credentials is None:
                entry.credentials, entry.project = await asyncio.to_thread(_load, src)
            if entry.transport is None:
                entry.transport = self._transport_factory()
            await asyncio.to_thread(_refresh, entry.credentials, entry.transport)
            token = entry.credentials.token
            if not isinstance(token, str) or not token:
                raise UpstreamError(502, "auth", "Google's token endpoint returned no access token")
            entry.refreshes += 1
            entry.token = token
            entry.expires_at = _epoch(entry.credentials.expiry) or self._clock() + DEFAULT_LIFETIME
            return token, entry.project

    def _fresh(self, entry: _Entry) -> bool:
        return self._clock() < entry.expires_at - self._margin


def _refresh(credentials: Any, transport: Any) -> None:
    from google.auth import exceptions

    try:
        credentials.refresh(transport)
    except exceptions.RefreshError as e:
        detail = e.args[0] if e.args and isinstance(e.args[0], str) else ""
        match = _ERROR_CODE.match(detail)
        reason = f" ({match.group(1)})" if match else ""
        raise UpstreamError(
            401, "auth", f"Google refused to issue an access token for the Vertex AI credentials{reason}"
        ) from None
    except exceptions.TransportError:
        raise UpstreamError(
            503, "connection", "could not reach Google's OAuth token endpoint to authenticate to Vertex AI"
        ) from None
