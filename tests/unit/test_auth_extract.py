"""pipeline/auth.py `extract_key` (every accepted header form) and security.py (hashing, encryption, keys)."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from switchyard.pipeline.auth import extract_key
from switchyard.security import KEY_PREFIX, Secrets, display_prefix, load_or_create_master, new_gateway_key

KEY = "sk-sy-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"


# -- extract_key -----------------------------------------------------------------------------------------
# Header names arrive lower-cased (ASGI).


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEY}"},
        {"helicone-auth": f"Bearer {KEY}"},
        {"x-api-key": KEY},
        {"x-api-key": f"Bearer {KEY}"},
        {"authorization": f"Bearer Bearer {KEY}"},  # Anthropic SDK 2.x with a Bearer-prefixed key
        {"authorization": f"bearer {KEY}"},
        {"authorization": f"BEARER {KEY}"},
        {"authorization": f"BeArEr {KEY}"},
        {"authorization": f"  Bearer   {KEY}  "},
        {"api-key": KEY},  # Azure OpenAI SDKs
        {"helicone-auth": f"bearer Bearer {KEY}"},
    ],
    ids=lambda h: f"{next(iter(h))}:{next(iter(h.values())).replace(KEY, 'k')}",
)
def test_accepted_forms(headers: dict[str, str]) -> None:
    assert extract_key(headers) == KEY


def test_key_without_bearer_in_authorization_is_taken_verbatim() -> None:
    assert extract_key({"authorization": KEY}) == KEY


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": ""}, {"x-api-key": "   "}, {"content-type": "application/json"}],
)
def test_no_key(headers: dict[str, str]) -> None:
    assert extract_key(headers) is None


@pytest.mark.parametrize("value", ["Bearer ", "Bearer  Bearer  ", "bearer"])
def test_bearer_without_a_token_is_no_key(value: str) -> None:
    assert extract_key({"authorization": value}) is None


def test_helicone_auth_wins_over_authorization() -> None:
    # Helicone clients send the gateway key in Helicone-Auth and may leave a provider key in Authorization.
    assert extract_key({"authorization": "Bearer sk-provider", "helicone-auth": f"Bearer {KEY}"}) == KEY


def test_empty_header_falls_through_to_the_next() -> None:
    assert extract_key({"helicone-auth": "", "authorization": "  ", "x-api-key": KEY}) == KEY


def test_empty_bearer_header_falls_through_to_the_next() -> None:
    assert extract_key({"helicone-auth": "Bearer ", "x-api-key": KEY}) == KEY


# -- Secrets ---------------------------------------------------------------------------------------------


def test_hash_is_deterministic_hex() -> None:
    s = Secrets(b"master-one")
    h = s.hash_key(KEY)
    assert h == s.hash_key(KEY) == Secrets(b"master-one").hash_key(KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert s.hash_key(KEY + "x") != h


def test_hash_is_keyed_by_the_master() -> None:
    assert Secrets(b"master-one").hash_key(KEY) != Secrets(b"master-two").hash_key(KEY)


@pytest.mark.parametrize(
    "key", [KEY, "", "x", "ключ 🔑", "k" * 5000, "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"]
)
def test_hash_is_hmac_sha256_under_the_derived_key(key: str) -> None:
    """hash_key copies precomputed keyed states (security.py): the digests are the standard HMAC's, so every hash
    stored before stays valid; repeated calls never share state."""
    import hashlib
    import hmac

    s = Secrets(b"master-one")
    expected = hmac.new(s._hmac_key, key.encode(), hashlib.sha256).hexdigest()
    assert s.hash_key(key) == expected
    assert s.hash_key(key + "!") == hmac.new(s._hmac_key, (key + "!").encode(), hashlib.sha256).hexdigest()
    assert s.hash_key(key) == expected


def test_hash_is_not_a_plain_sha256() -> None:
    import hashlib

    assert Secrets(b"m").hash_key(KEY) != hashlib.sha256(KEY.encode()).hexdigest()


@pytest.mark.parametrize("plaintext", ["sk-proj-abc", "", "ключ 🔑", "x" * 5000])
def test_encrypt_round_trip(plaintext: str) -> None:
    s = Secrets(b"master")
    token = s.encrypt(plaintext)
    assert plaintext not in token or plaintext == ""
    assert s.decrypt(token) == plaintext
    assert Secrets(b"master").decrypt(token) == plaintext  # another instance with the same master


def test_encryption_is_randomised() -> None:
    s = Secrets(b"master")
    assert s.encrypt("same") != s.encrypt("same")


def test_tampering_is_detected() -> None:
    s = Secrets(b"master")
    raw = bytearray(base64.b64decode(s.encrypt("sk-provider-key")))
    for i in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(InvalidTag):
            s.decrypt(base64.b64encode(bytes(bad)).decode())


def test_wrong_master_cannot_decrypt() -> None:
    token = Secrets(b"master-one").encrypt("sk-provider-key")
    with pytest.raises(InvalidTag):
        Secrets(b"master-two").decrypt(token)


# -- gateway keys ----------------------------------------------------------------------------------------


def test_new_gateway_key_format() -> None:
    for _ in range(200):
        k = new_gateway_key()
        assert re.fullmatch(r"sk-sy-[A-Za-z0-9]{40}", k), k


def test_new_gateway_keys_are_unique() -> None:
    keys = {new_gateway_key() for _ in range(5000)}
    assert len(keys) == 5000


def test_display_prefix_of_a_real_key() -> None:
    k = new_gateway_key()
    shown = display_prefix(k)
    assert shown == k[: len(KEY_PREFIX) + 4] + "…"


@given(st.text(max_size=80))
def test_display_prefix_never_reveals_more_than_prefix_plus_four(key: str) -> None:
    shown = display_prefix(key)
    assert shown.endswith("…")
    revealed = shown[:-1]
    assert key.startswith(revealed)
    assert len(revealed) <= len(KEY_PREFIX) + 4


# -- master secret ---------------------------------------------------------------------------------------


def test_configured_master_is_used(tmp_path: Path) -> None:
    configured = "configured-secret-0123456789abcdef"
    assert load_or_create_master(configured, tmp_path) == configured.encode()
    assert not (tmp_path / "master.key").exists()


def test_master_is_created_once_private_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = load_or_create_master(None, home)
    path = home / "master.key"
    assert path.exists() and len(first) >= 32
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master(None, home) == first
    assert Secrets(first).hash_key(KEY) == Secrets(load_or_create_master(None, home)).hash_key(KEY)
