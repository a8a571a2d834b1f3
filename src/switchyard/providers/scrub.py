"""What an upstream's text must never carry back to a caller or a log: the attempt's own credentials.

`errors.redact` removes anything shaped like a key; `scrub` adds the exact secrets of the target the text came from
(an organisation's own key need not look like a key: Azure's are 32 hex characters, AWS secrets are base64), and
every secret credential part a wire format declares (`formats.key_secret_names`).
"""

from __future__ import annotations

from typing import Any

from ..errors import redact
from .formats import key_secret_names

_SECRET_CONFIG = ("secret", "secret_key", "secret_access_key", "session_token", "access_token")


def scrub(text: str, target: Any) -> str:
    """`redact`, plus the exact credentials of the upstream this text came from: an organisation's own key need
    not look like a key (Azure's are 32 hex characters, AWS secrets are base64), and providers sometimes quote
    the key they were given in their error messages."""
    out = text
    secrets = [getattr(target, "api_key", None)]
    config = getattr(target, "config", None) or {}
    secrets += [config.get(name) for name in _SECRET_CONFIG]
    if config:  # and every secret credential part some wire format declares for organisations' keys
        secrets += [config.get(name) for name in key_secret_names()]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 8 and secret in out:
            out = out.replace(secret, "[redacted]")
    return redact(out)
