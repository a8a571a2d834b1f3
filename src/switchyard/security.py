"""Secrets: gateway-key generation and keyed hashing, provider-key encryption at rest.

From one master secret two independent keys are derived with HKDF-SHA256: one for HMAC-SHA256 of gateway
keys (stored only as that hash), one for AES-256-GCM of provider keys. The embedded default keeps a random
master secret in `$SWITCHYARD_HOME/master.key` (mode 0600); replicas share one through configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_PREFIX = "sk-sy-"


def load_or_create_master(configured: str | None, home: Path) -> bytes:
    if configured:
        return configured.encode()
    path = home / "master.key"
    if path.exists():
        return path.read_bytes().strip()
    home.mkdir(parents=True, exist_ok=True)
    secret = base64.urlsafe_b64encode(os.urandom(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secret)
    finally:
        os.close(fd)
    return secret


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"switchyard", info=purpose).derive(master)


class Secrets:
    __slots__ = ("_aead", "_hmac_key")

    def __init__(self, master: bytes) -> None:
        self._hmac_key = _derive(master, b"gateway-key-hash")
        self._aead = AESGCM(_derive(master, b"provider-key-encryption"))

    def hash_key(self, key: str) -> str:
        return hmac.new(self._hmac_key, key.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), None)).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()


def new_gateway_key() -> str:
    """A fresh gateway key: `sk-sy-` + 40 characters of base62-ish randomness (~238 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")


def display_prefix(key: str) -> str:
    """What may be shown of a key after creation: enough to recognise it, never enough to use it."""
    return key[: len(KEY_PREFIX) + 4] + "…"
