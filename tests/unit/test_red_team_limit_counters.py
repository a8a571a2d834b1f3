"""Red team: a caller-chosen user id or property value cannot name another value's rate-limit counter.

Values over 64 characters are hashed into `#<32 hex>`; before the fix a short value spelled `#<that hash>` was
used verbatim, so one end user could exhaust the counter of another (whose long id they know)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

from switchyard.pipeline.limit_rules import resolve_rules
from switchyard.stores.base import LimitRule


def _counter(user: str) -> str:
    key = SimpleNamespace(id="k1", limits=())
    org = SimpleNamespace(
        id="o1", limits=(LimitRule(metric="requests", limit=5, window_seconds=60, per="user"),)
    )
    principal = SimpleNamespace(key=key, org=org)
    helicone = SimpleNamespace(user_id=user, properties={})
    (rule,) = resolve_rules(principal, helicone, None)
    return rule.charge.counter


def test_a_hash_shaped_user_id_gets_its_own_counter() -> None:
    victim = "v" * 100
    forged = "#" + hashlib.sha256(victim.encode()).hexdigest()[:32]
    assert _counter(forged) != _counter(victim)
    assert _counter("alice") != _counter("bob")
    assert _counter("alice") == _counter("alice")
