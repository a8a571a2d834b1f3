"""The circuit breaker keys BYOK endpoints by organisation: two organisations may both name a key `main`, and
one's broken key must not eject the other's (whose traffic would then move to the operator's key)."""

from __future__ import annotations

from switchyard.config import BreakerSettings
from switchyard.observe.metrics import Metrics
from switchyard.pipeline.health import Health
from switchyard.pipeline.order import order
from unit.test_plan import planner
from unit.test_routing import key, ring


def test_same_key_id_in_two_orgs_names_two_endpoints() -> None:
    p = planner("OPENAI_API_KEY")
    a = p.plan("gpt-4o-mini", ring(key("openai", "main"), org="org-a"))
    b = p.plan("gpt-4o-mini", ring(key("openai", "main"), org="org-b"))
    assert a[0].auth == b[0].auth == "byok" and a[0].key_id == b[0].key_id == "main"
    assert a[0].endpoint_id != b[0].endpoint_id
    assert a[0].endpoint_id == "openai:byok:org-a:main"
    assert a[1].endpoint_id == b[1].endpoint_id == "openai:ptb"  # the operator's key is one shared endpoint


def test_one_orgs_broken_key_leaves_the_other_orgs_key_alone() -> None:
    p = planner("OPENAI_API_KEY")
    health = Health(BreakerSettings(failures=5))
    a = p.plan("gpt-4o-mini", ring(key("openai", "main"), org="org-a"))
    b = p.plan("gpt-4o-mini", ring(key("openai", "main"), org="org-b"))
    health.failure(a[0].endpoint_id, "auth")  # the provider rejected org A's key: open at once
    assert not health.allow(a[0].endpoint_id)
    assert health.allow(b[0].endpoint_id)
    assert health.score(b[0].endpoint_id) == 0
    first = order(b, health)[0]
    assert (first.auth, first.org_id, first.key_id) == ("byok", "org-b", "main")


def test_metrics_do_not_name_byok_keys_or_organisations() -> None:
    """/metrics labels BYOK circuits by provider and auth kind only (the admin API's /health has the detail)."""
    p = planner("OPENAI_API_KEY")
    health = Health(BreakerSettings(failures=5))
    m = Metrics(process=False)
    m.bind_health(health)
    a = p.plan("gpt-4o-mini", ring(key("openai", "team-secret-name"), org="org-a"))
    b = p.plan("gpt-4o-mini", ring(key("openai", "main"), org="org-b"))
    health.failure(a[0].endpoint_id, "auth")  # open
    health.failure(b[0].endpoint_id, "server")  # closed, one failure
    body, _ = m.render()
    text = body.decode()
    assert "team-secret-name" not in text and "org-a" not in text and "org-b" not in text
    assert 'switchyard_circuit_state{endpoint="openai:byok"} 2.0' in text  # the worst of the provider's keys
    assert 'switchyard_circuit_consecutive_failures{endpoint="openai:byok"} 1.0' in text
    assert 'switchyard_circuit_byok_keys{provider="openai",state="open"} 1.0' in text
    assert 'switchyard_circuit_byok_keys{provider="openai",state="closed"} 1.0' in text
    assert {r["endpoint"] for r in health.snapshot()} == {a[0].endpoint_id, b[0].endpoint_id}
