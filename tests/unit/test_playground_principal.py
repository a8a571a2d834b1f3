"""The admin's playground principal is its own per organisation (review finding G1, docs/security.md §9).

The dashboard runs an admin's playground request as a synthetic key. Its id was the same (`dashboard-admin`) in
every organisation, and per-key limit counters are named by key id (`k:<key id>`), so an organisation limit
counted per key (the default `per`) shared one counter across organisations: one organisation's playground spend
used up another's budget, and its requests were refused by another's limit."""

from __future__ import annotations

from types import SimpleNamespace

from switchyard.dashboard.playground import ADMIN_KEY_ID, principal_of
from switchyard.pipeline.limit_rules import resolve_rules
from switchyard.stores.base import LimitRule, Org

RULE = LimitRule(metric="requests", limit=10, window_seconds=60, per="key")
HELICONE = SimpleNamespace(user_id=None, properties={})


def admin_viewer(org: Org) -> SimpleNamespace:
    return SimpleNamespace(admin=True, key=None, org=org)


def test_two_organisations_admin_runs_count_against_their_own_per_key_limits() -> None:
    a = Org(id="0b3a61c4-5a2f-4b8e-9d51-2f6a1c7e0a01", name="a", created_at=0, limits=(RULE,))
    b = Org(id="7e9d0f12-83c4-4c55-a0b6-91d2e3f4a5b6", name="b", created_at=0, limits=(RULE,))
    pa, pb = principal_of(admin_viewer(a)), principal_of(admin_viewer(b))  # type: ignore[arg-type]
    [ra] = resolve_rules(pa, HELICONE, None)
    [rb] = resolve_rules(pb, HELICONE, None)
    assert ra.charge.counter != rb.charge.counter
    assert principal_of(admin_viewer(a)).key.id == pa.key.id  # stable: one counter per organisation  # type: ignore[arg-type]


def test_the_admin_key_id_fits_the_rows_column_and_says_what_it_is() -> None:
    org = Org(id="0b3a61c4-5a2f-4b8e-9d51-2f6a1c7e0a01", name="a", created_at=0)
    key_id = principal_of(admin_viewer(org)).key.id  # type: ignore[arg-type]
    assert key_id.startswith(ADMIN_KEY_ID) and len(key_id) <= 36  # requests.key_id is String(36)
