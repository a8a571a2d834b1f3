"""pipeline/auth.py's one-time grants (the dashboard playground's way through the real chat route): a grant
authenticates once, as the principal it was made for, within its time; never twice, never after it, never as a
made-up token of the same shape, and it costs the store nothing."""

from __future__ import annotations

import pytest

from switchyard.errors import GatewayError
from switchyard.pipeline.auth import GRANT_PREFIX, GRANT_TTL, Authenticator, Principal
from switchyard.security import Secrets
from switchyard.stores.base import GatewayKey, Org

SECRETS = Secrets(b"unit-test-master-key-0123456789abcdef")
ORG = Org("org-1", "org", 0)
KEY = GatewayKey("key-1", ORG.id, "mine", "sk-sy-abc", 0, None, allowed_models=("gpt-4o-mini",))


class NoStore:
    queries = 0

    async def find_key_by_hash(self, digest: str) -> None:
        self.queries += 1


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_grant_authenticates_once_as_its_principal() -> None:
    store, clock = NoStore(), Clock()
    auth = Authenticator(store, SECRETS, clock=clock)
    principal = Principal(KEY, ORG)
    token = auth.grant(principal)
    assert token.startswith(GRANT_PREFIX) and len(token) > 40
    assert await auth.authenticate(bearer(token)) is principal
    with pytest.raises(GatewayError) as e:
        await auth.authenticate(bearer(token))  # used up
    assert e.value.status == 401
    with pytest.raises(GatewayError):
        await auth.authenticate(bearer(GRANT_PREFIX + "made-up-token-of-the-right-shape-0123456789"))
    late = auth.grant(principal)
    clock.t += GRANT_TTL + 1
    with pytest.raises(GatewayError):
        await auth.authenticate(bearer(late))  # expired
    assert store.queries == 0  # grants never reach the store
    assert auth._grants == {}  # the expired one was dropped when it was tried
