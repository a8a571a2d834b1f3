"""Who is looking: a gateway key (its own organisation) or the admin key (every organisation, one at a time).

Every page resolves its viewer from the session afresh: the key record is read by its hash, so a key revoked or
an admin key changed ends the sessions made with it on their next page.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from ..security import KEY_PREFIX
from ..stores.base import GatewayKey, Org, StoreUnavailable
from .session import Session, SessionCodec


@dataclass(frozen=True, slots=True)
class Viewer:
    admin: bool
    org: Org
    orgs: tuple[Org, ...]  # what the switcher offers (an org key: its own only)
    key: GatewayKey | None
    session: Session

    @property
    def label(self) -> str:
        if self.admin:
            return "Admin"
        return self.key.name or self.key.prefix if self.key else "Key"


class SignInError(Exception):
    """A sign-in refused, with a message safe to show (it never repeats what was typed)."""


async def _admin_orgs(store: Any) -> tuple[Org, ...]:
    orgs = await store.list_orgs()
    return tuple(sorted(orgs, key=lambda o: (o.name != "default", o.name)))


async def resolve(deps: Any, codec: SessionCodec, s: Session | None) -> Viewer | None:
    """The viewer a session stands for, or None (not signed in, key revoked, admin key changed)."""
    if s is None or not s.signed_in:
        return None
    store = deps.store
    if s.kind == "admin":
        configured = deps.settings.admin.key
        if (
            not configured
            or not s.admin_tag
            or not hmac.compare_digest(s.admin_tag, codec.admin_tag(configured))
        ):
            return None
        orgs = await _admin_orgs(store)
        if not orgs:
            return None
        org = next((o for o in orgs if o.id == s.org_id), orgs[0])
        return Viewer(admin=True, org=org, orgs=orgs, key=None, session=s)
    if not s.key_hash:
        return None
    key = await store.find_key_by_hash(s.key_hash)
    if key is None or not key.active:
        return None
    org = await store.get_org(key.org_id)
    if org is None:
        return None
    return Viewer(admin=False, org=org, orgs=(org,), key=key, session=s)


async def sign_in(deps: Any, codec: SessionCodec, typed: str) -> Session:
    """A new session for a pasted gateway key or admin key; SignInError otherwise."""
    value = (typed or "").strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    if not value:
        raise SignInError("Paste a gateway key or the admin key.")
    if len(value) > 4096:
        raise SignInError("That is not a key this gateway knows.")
    configured = deps.settings.admin.key
    try:
        if configured and hmac.compare_digest(value.encode(), configured.encode()):
            orgs = await _admin_orgs(deps.store)
            return codec.signed_in(
                "admin", admin_tag=codec.admin_tag(configured), org_id=orgs[0].id if orgs else None
            )
        digest = deps.secrets.hash_key(value)
        key = await deps.store.find_key_by_hash(digest)
    except StoreUnavailable:
        raise SignInError("The gateway's store is unavailable; try again shortly.") from None
    if key is None or not key.active:
        hint = "" if value.startswith(KEY_PREFIX) else f" Gateway keys start with {KEY_PREFIX}."
        raise SignInError("That is not a key this gateway knows, or it was revoked." + hint)
    return codec.signed_in("key", key_hash=digest)
