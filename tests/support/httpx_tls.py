"""One default TLS context for every httpx client in the test process, instead of one per client.

httpx builds a fresh `ssl.SSLContext` for every `Client` (every `httpx.get`/`httpx.post` is a new client, and so
is every SDK client): it loads certifi's CA bundle, ~25 ms of CPU each, against ~2 ms for the request itself. The
suite talks to loopback over plain HTTP, polls with `httpx.get` and builds SDK clients per test, so thousands of
these contexts were built for nothing. `share_default_tls_context()` (tests/conftest.py) makes httpx hand out one
context per (trust_env, SSL_CERT_FILE, SSL_CERT_DIR) for the default `verify=True` without a client certificate;
any other `verify` or `cert` gets its own context as before. Nothing here is the gateway's: it has its own client.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import httpx._transports.default as httpx_transports

_shared: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}


def share_default_tls_context() -> None:
    made_by_httpx = httpx_transports.create_ssl_context
    if getattr(made_by_httpx, "shared", False):
        return

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert is not None:
            return made_by_httpx(verify=verify, cert=cert, trust_env=trust_env)
        env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else (None, None)
        key = (trust_env, *env)
        if key not in _shared:
            _shared[key] = made_by_httpx(verify=verify, cert=cert, trust_env=trust_env)
        return _shared[key]

    create_ssl_context.shared = True  # type: ignore[attr-defined]
    httpx_transports.create_ssl_context = create_ssl_context  # type: ignore[assignment]
