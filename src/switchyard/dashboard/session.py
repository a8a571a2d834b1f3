"""The dashboard's session cookie and CSRF tokens.

The cookie is stateless (every worker and replica reads it) and signed with HMAC-SHA256 under a key derived from
the gateway's master secret; it never holds a key, not even encrypted:

- a gateway-key session holds the key's HMAC hash (what the store indexes keys by), so every page re-reads the
  key record and a revoked key ends its sessions at once;
- an admin session holds a tag (an HMAC of the admin key), so changing the admin key ends them;
- every session, signed in or not, holds a random nonce; the CSRF token of every form is an HMAC of it, and a
  POST whose token does not match is refused whatever cookie it carries (SameSite is only a second fence).
  Signing in issues a new nonce (no session fixation).

Cookie attributes: HttpOnly, SameSite=Lax, Path=/dashboard, Secure when the page was served over https.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, replace
from typing import Any

import orjson

COOKIE = "sy_session"
COOKIE_PATH = "/dashboard"
MAX_AGE_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

# What `Secrets.hash_key` is keyed with never leaves the process; HMAC of a fixed label under that key is a
# key of its own (HMAC as a PRF), separate from every stored key hash because gateway keys start with `sk-`.
_SIGNING_LABEL = "\x00switchyard-dashboard-session-v1"


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int  # epoch seconds
    kind: str | None = None  # "key", "admin" or None (not signed in)
    key_hash: str | None = None  # kind "key": the gateway key's HMAC hash
    admin_tag: str | None = None  # kind "admin": HMAC of the admin key
    org_id: str | None = None  # kind "admin": the organisation picked in the switcher

    @property
    def signed_in(self) -> bool:
        return self.kind is not None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secrets: Any) -> None:
        self._key = bytes.fromhex(secrets.hash_key(_SIGNING_LABEL))

    def _mac(self, label: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, label + b"\x00" + data, hashlib.sha256).digest()

    # -- sessions --------------------------------------------------------------------------------------

    @staticmethod
    def anonymous() -> Session:
        return Session(nonce=_b64(os.urandom(18)), expires=int(time.time()) + MAX_AGE_SECONDS)

    def signed_in(
        self,
        kind: str,
        *,
        key_hash: str | None = None,
        admin_tag: str | None = None,
        org_id: str | None = None,
    ) -> Session:
        """A fresh session (new nonce, so a token seen before sign-in is worthless after it)."""
        return replace(self.anonymous(), kind=kind, key_hash=key_hash, admin_tag=admin_tag, org_id=org_id)

    def dumps(self, s: Session) -> str:
        body = {"n": s.nonce, "e": s.expires, "k": s.kind, "h": s.key_hash, "a": s.admin_tag, "o": s.org_id}
        payload = _b64(orjson.dumps({k: v for k, v in body.items() if v is not None}))
        return payload + "." + _b64(self._mac(b"session", payload.encode()))

    def loads(self, raw: str | None) -> Session | None:
        """The session in a cookie value, or None when it is missing, forged, malformed or expired."""
        if not raw or len(raw) > 2048 or raw.count(".") != 1:
            return None
        payload, sig = raw.split(".")
        try:
            if not hmac.compare_digest(_unb64(sig), self._mac(b"session", payload.encode())):
                return None
            body = orjson.loads(_unb64(payload))
            s = Session(
                nonce=body["n"],
                expires=int(body["e"]),
                kind=body.get("k"),
                key_hash=body.get("h"),
                admin_tag=body.get("a"),
                org_id=body.get("o"),
            )
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if s.expires < time.time() or s.kind not in (None, "key", "admin"):
            return None
        return s

    def admin_tag(self, admin_key: str) -> str:
        return _b64(self._mac(b"admin", admin_key.encode()))

    # -- CSRF ------------------------------------------------------------------------------------------

    def csrf_token(self, s: Session) -> str:
        return _b64(self._mac(b"csrf", s.nonce.encode()))

    def csrf_ok(self, s: Session, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(s).encode())


def cookie_header(value: str, *, secure: bool, max_age: int = MAX_AGE_SECONDS) -> str:
    parts = [f"{COOKIE}={value}", f"Path={COOKIE_PATH}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
