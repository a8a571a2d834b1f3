"""security.py derives its keys with the standard library's HMAC (HKDF-SHA256, RFC 5869) and imports `cryptography`
only for AES-GCM, on the first encryption or decryption: the same keys and ciphertexts as `cryptography`'s HKDF, so
provider keys stored before still decrypt."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from support.fresh_python import fresh_python_json
from switchyard.security import Secrets, _derive

MASTER = b"m" * 40


def _hkdf(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"switchyard", info=purpose).derive(master)


def test_derive_is_cryptographys_hkdf() -> None:
    for n in (1, 32, 44, 64, 65, 200):
        master = os.urandom(n)
        for purpose in (
            b"",
            b"gateway-key-hash",
            b"provider-key-encryption",
            b"master-key-check",
            os.urandom(80),
        ):
            assert _derive(master, purpose) == _hkdf(master, purpose)


def test_provider_keys_encrypted_before_still_decrypt_and_the_other_way() -> None:
    old = AESGCM(_hkdf(MASTER, b"provider-key-encryption"))  # what Secrets held before
    nonce = os.urandom(12)
    stored = base64.b64encode(nonce + old.encrypt(nonce, b"sk-stored-earlier", None)).decode()
    secrets = Secrets(MASTER)
    assert secrets.decrypt(stored) == "sk-stored-earlier"
    raw = base64.b64decode(secrets.encrypt("sk-new"))
    assert old.decrypt(raw[:12], raw[12:], None) == b"sk-new"


def test_cryptography_is_imported_at_the_first_encryption_only() -> None:
    code = (
        "import sys, json\n"
        "from switchyard.security import Secrets\n"
        "s = Secrets(b'm' * 40); s.hash_key('sk-sy-x'); s.check_value\n"
        "before = 'cryptography' in sys.modules\n"
        "s.decrypt(s.encrypt('k'))\n"
        "print(json.dumps([before, 'cryptography' in sys.modules]))"
    )
    assert fresh_python_json(code) == [False, True]
