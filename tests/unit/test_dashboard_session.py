"""The dashboard's session cookie and CSRF tokens (pure logic; the browser suite proves them end to end)."""

from __future__ import annotations

import base64
import time
from dataclasses import replace

import orjson

from switchyard.dashboard.session import MAX_AGE_SECONDS, SessionCodec, cookie_header
from switchyard.security import Secrets, new_gateway_key


def codec(master: bytes = b"m" * 44) -> SessionCodec:
    return SessionCodec(Secrets(master))


def test_a_key_session_holds_the_keys_hash_never_the_key():
    secrets = Secrets(b"m" * 44)
    c = SessionCodec(secrets)
    key = new_gateway_key()
    raw = c.dumps(c.signed_in("key", key_hash=secrets.hash_key(key)))
    payload = orjson.loads(base64.urlsafe_b64decode(raw.split(".")[0] + "=="))
    assert key not in raw and key[6:] not in raw
    assert payload["h"] == secrets.hash_key(key) and payload["k"] == "key"
    assert c.loads(raw).key_hash == secrets.hash_key(key)


def test_tampered_forged_and_expired_cookies_are_refused():
    c = codec()
    s = c.signed_in("key", key_hash="a" * 64)
    raw = c.dumps(s)
    payload, sig = raw.split(".")
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    other = base64.urlsafe_b64encode(orjson.dumps({**body, "k": "admin"})).rstrip(b"=").decode()
    assert c.loads(f"{other}.{sig}") is None  # changed payload, old signature
    assert codec(b"x" * 44).loads(raw) is None  # signed under another master secret
    assert c.loads(c.dumps(replace(s, expires=int(time.time()) - 1))) is None
    for junk in ("", "abc", "a.b.c", "." * 3000, raw + "x"):
        assert c.loads(junk) is None


def test_csrf_token_is_bound_to_the_session_nonce():
    c = codec()
    a, b = c.anonymous(), c.anonymous()
    assert c.csrf_ok(a, c.csrf_token(a))
    assert not c.csrf_ok(a, c.csrf_token(b))
    assert not c.csrf_ok(a, None) and not c.csrf_ok(a, "")
    signed = c.signed_in("key", key_hash="a" * 64)  # signing in issues a new nonce: old tokens die
    assert not c.csrf_ok(signed, c.csrf_token(a))


def test_admin_tag_changes_with_the_admin_key():
    c = codec()
    assert c.admin_tag("one-admin-key") != c.admin_tag("another-admin-key")
    assert "one-admin-key" not in c.admin_tag("one-admin-key")


def test_cookie_attributes():
    h = cookie_header("v", secure=False)
    assert (
        "HttpOnly" in h
        and "SameSite=Lax" in h
        and "Path=/dashboard" in h
        and f"Max-Age={MAX_AGE_SECONDS}" in h
    )
    assert "Secure" not in h and "Secure" in cookie_header("v", secure=True)
