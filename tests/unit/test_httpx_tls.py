"""The test process's shared default TLS context (tests/support/httpx_tls.py), installed by tests/conftest.py."""

from __future__ import annotations

import ssl

import httpx
import pytest

from support.httpx_tls import share_default_tls_context


def _context(client: httpx.Client) -> ssl.SSLContext:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_default_clients_share_one_context_and_other_verify_settings_get_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    share_default_tls_context()  # installed once: a second call changes nothing
    with httpx.Client() as a, httpx.Client() as b, httpx.Client(verify=False) as insecure:
        assert _context(a) is _context(b)
        assert _context(a).verify_mode == ssl.CERT_REQUIRED and _context(a).check_hostname
        assert _context(insecure) is not _context(a) and _context(insecure).verify_mode == ssl.CERT_NONE
    own = ssl.create_default_context()
    with httpx.Client(verify=own) as c:
        assert _context(c) is own
    monkeypatch.setenv(
        "SSL_CERT_DIR", "/nonexistent-dir-for-this-test"
    )  # another trust store: another context
    with httpx.Client() as d:
        assert _context(d) is not _context(a)
