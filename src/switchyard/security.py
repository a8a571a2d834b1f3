"""Secrets: gateway-key generation and keyed hashing, provider-key encryption at rest, the master secret.

From one master secret three independent keys are derived with HKDF-SHA256: one for HMAC-SHA256 of gateway
keys (stored only as that hash), one for AES-256-GCM of provider keys, one for the store's key-check value.
The embedded default keeps a random master secret in `$SWITCHYARD_HOME/master.key` (file 0600, directory
0700); replicas share one through configuration (`security.master_key`).

A master secret must be at least `MIN_SECRET_LENGTH` characters, and an empty or short `master.key` is refused
rather than used. The store remembers a check value of the master secret it was first used with (an HMAC of a
fixed label under a key derived for nothing else: it reveals nothing about the secret); a process whose secret
does not produce the same value refuses to start (`verify_master`), instead of hashing keys nobody can present
and failing to decrypt the organisations' provider keys.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

log = logging.getLogger("switchyard.security")

KEY_PREFIX = "sk-sy-"
MIN_SECRET_LENGTH = 32  # characters, for the master secret and the admin key
MASTER_CHECK = "master_key_check"  # the store_meta row holding the check value
_CHECK_LABEL = b"switchyard master key check v1"
_KEY_BODY = 40  # characters after KEY_PREFIX in a gateway key
# Keys imported from Helicone (`switchyard keys import`): exactly Helicone's documented shapes, `sk-`/`pk-`, optional
# `-helicone`, `-eu`, `-cp`, `-rl`, then four groups of 7 word characters (~144 bits). Only these shapes, not "any
# long string": every other string is still refused without a store lookup, so a flood of junk keys (or provider
# keys sent to the wrong place) costs no query; keys of another gateway's shapes cannot be imported.
IMPORTED_KEY = re.compile(r"[sp]k(?:-helicone)?(?:-eu)?(?:-cp)?(?:-rl)?(?:-[A-Za-z0-9_]{7}){4}")


class MasterKeyError(Exception):
    """The master secret is missing, too short, or not the one the store's secrets were made with."""


def load_or_create_master(configured: str | None, home: Path) -> bytes:
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise MasterKeyError(
                f"security.master_key is {len(configured)} characters long; it must be at least "
                f"{MIN_SECRET_LENGTH} (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return configured.encode()
    path = home / "master.key"
    _private_dir(home)
    if not path.exists():
        _create_master(path)
    _private_file(path)
    secret = path.read_bytes().strip()
    if not secret:
        raise MasterKeyError(
            f"{path} is empty. Restore the master key file from a backup (or set security.master_key); "
            "delete the file only if this store holds no keys yet, and a new one is made"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise MasterKeyError(
            f"{path} holds a master key of {len(secret)} characters; it must be at least {MIN_SECRET_LENGTH}"
        )
    return secret


def _create_master(path: Path) -> None:
    """Write a fresh secret under a temporary name, then link it into place: a process starting at the same
    moment sees either no file or the whole secret, never an empty file; the first link wins."""
    tmp = path.with_name(f".master.key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.urlsafe_b64encode(os.urandom(32)))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _private_dir(home: Path) -> None:
    """$SWITCHYARD_HOME holds the master key, the database and the spool: only its owner may enter it."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(home, 0o700)


def _private_file(path: Path) -> None:
    _tighten(path, 0o600)


def _tighten(path: Path, mode: int) -> None:
    if os.name != "posix":
        return
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, mode)
            log.warning("%s was accessible to other users (mode %o); changed to %o", path, current, mode)
    except OSError as e:  # a read-only mount, someone else's file: say so, the secret still works
        log.warning("%s is accessible to other users and its mode cannot be changed: %s", path, e)


def _derive(master: bytes, purpose: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) of `master` for `purpose`, 32 bytes: one block of the expand step. Written with the
    standard library's HMAC rather than `cryptography`'s HKDF (the same bytes, pinned by test_security_lazy.py), so
    a serving process loads the `cryptography` bindings (~9 MB resident) only when a provider key is encrypted or
    decrypted (`Secrets._cipher`)."""
    prk = hmac.digest(b"switchyard", master, "sha256")  # extract, with the salt as the HMAC key
    return hmac.digest(prk, purpose + b"\x01", "sha256")  # expand: T(1) = HMAC(PRK, info || 0x01)


def looks_like_gateway_key(key: str) -> bool:
    """Whether `key` has the shape `new_gateway_key` gives every key: anything else is refused unlooked-up."""
    body = key[len(KEY_PREFIX) :]
    if key.startswith(KEY_PREFIX) and len(body) == _KEY_BODY and body.isascii() and body.isalnum():
        return True
    return len(key) <= 64 and IMPORTED_KEY.fullmatch(key) is not None  # an imported Helicone key


class Secrets:
    __slots__ = ("_aead", "_aead_key", "_check", "_hmac_key", "_keyed")

    def __init__(self, master: bytes) -> None:
        self._hmac_key = _derive(master, b"gateway-key-hash")
        # HMAC-SHA256 keyed once (OpenSSL's HMAC object); each hash_key copies it instead of keying afresh: every
        # request hashes its key (0.95 against 1.27 µs a hash; the library's HMAC, not one written here)
        self._keyed = hmac.new(self._hmac_key, digestmod="sha256")
        self._aead_key = _derive(master, b"provider-key-encryption")
        self._aead: Any = None  # AESGCM, made at the first encryption or decryption (_cipher)
        self._check = hmac.new(_derive(master, b"master-key-check"), _CHECK_LABEL, hashlib.sha256).hexdigest()

    def _cipher(self) -> Any:
        """AES-256-GCM under the provider-key key; `cryptography` is imported here, once, on first use (a
        provider key stored or read: the admin API, the CLI, an organisation's own keys on its first request)."""
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(self._aead_key)
        return self._aead

    @property
    def check_value(self) -> str:
        """What the store keeps to recognise this master secret (an HMAC of a fixed label; not reversible)."""
        return self._check

    def hash_key(self, key: str) -> str:
        """HMAC-SHA256 of the key under the derived key, in hex (what the store keeps of a gateway key)."""
        mac = self._keyed.copy()
        mac.update(key.encode())
        return mac.hexdigest()

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._cipher().encrypt(nonce, plaintext.encode(), None)).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.b64decode(token)
        return self._cipher().decrypt(raw[:12], raw[12:], None).decode()


def new_gateway_key() -> str:
    """A fresh gateway key: `sk-sy-` + 40 characters of base62-ish randomness (~238 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")


def display_prefix(key: str) -> str:
    """What may be shown of a key after creation: enough to recognise it, never enough to use it."""
    if not key.startswith(KEY_PREFIX) and IMPORTED_KEY.fullmatch(
        key
    ):  # an imported key: its kind + 4 characters
        return key[: len(key) - 4 * 8 + 5] + "…"
    return key[: len(KEY_PREFIX) + 4] + "…"


async def verify_master(store: Any, secrets_: Secrets, source: str) -> None:
    """Refuse a master secret the store's secrets were not made with. `source` says where this process's secret
    came from (for the message).

    The first process to use a store records the check value. A store from before the check value existed
    has it recorded by the first process that can decrypt its provider keys (with none stored, nothing can be
    proven and the value is simply recorded); a process that can decrypt none of them is refused."""
    stored = await store.get_meta(MASTER_CHECK)
    if stored is None:
        samples = await store.provider_key_samples(20)
        if samples and not any(_decrypts(secrets_, c) for c in samples):
            raise MasterKeyError(_mismatch(source, "cannot decrypt any of the provider keys stored"))
        stored = await store.put_meta_once(MASTER_CHECK, secrets_.check_value)
    if not hmac.compare_digest(stored, secrets_.check_value):
        raise MasterKeyError(_mismatch(source, "is not the one this database was set up with"))


def _decrypts(secrets_: Secrets, ciphertext: str) -> bool:
    try:
        secrets_.decrypt(ciphertext)
    except Exception:
        return False
    return True


def _mismatch(source: str, what: str) -> str:
    return (
        f"the master key ({source}) {what}: gateway keys would not be recognised and the organisations' "
        "provider keys could not be decrypted. Give every process that shares this database the same "
        "security.master_key (e.g. security: {master_key: ${SWITCHYARD_MASTER_KEY}} with the variable set)"
    )


def master_source(configured: str | None, home: Path) -> str:
    return (
        "security.master_key" if configured else f"{home / 'master.key'}, as security.master_key is not set"
    )
