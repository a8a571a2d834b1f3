"""Session pins are bounded in total, not only per organisation (review finding P1, docs/security.md §9).

`max_per_org` alone let the table grow with the number of organisations (10,000 pins × every organisation that
ever named a session, expired pins included: nothing swept them), so a deployment with many tenants had no bound
at all. `max_total` caps the whole table; over it, the organisation that has been idle longest gives up its oldest
pin, so a busy organisation keeps its sessions and an idle one's (mostly expired) pins go first."""

from __future__ import annotations

from switchyard.config import AffinitySettings
from switchyard.pipeline.session_pins import PinTable, SessionPins


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_table_is_bounded_however_many_organisations_name_sessions() -> None:
    t = PinTable(max_per_org=10, max_total=50)
    for org in range(100):
        for k in range(10):
            t.put(f"org-{org}", f"k{k}", "openai:ptb|gpt", 600)
    assert t.size() == 50
    assert t.size("org-99") == 10  # the busiest lately keep theirs
    assert t.size("org-0") == 0  # the longest idle gave theirs up
    assert t.get("org-99", "k0") == "openai:ptb|gpt"


def test_an_active_organisation_is_not_drained_by_the_others() -> None:
    clock = Clock()
    t = PinTable(max_per_org=10, max_total=20, clock=clock)
    for k in range(10):
        t.put("busy", f"k{k}", "t", 600)
    for org in range(30):
        assert t.get("busy", "k0") == "t"  # busy keeps being used between the others' new sessions
        t.put(f"o{org}", "k", "t", 600)
    assert t.size("busy") >= 9 and t.size() <= 20


def test_the_total_counts_expiry_and_replacement() -> None:
    clock = Clock()
    t = PinTable(max_per_org=5, max_total=5, clock=clock)
    t.put("a", "k", "t1", 10)
    t.put("a", "k", "t2", 10)  # a move, not a second pin
    assert t.size() == 1
    clock.now += 11
    assert t.get("a", "k") is None and t.size() == 0
    for k in range(5):
        t.put("b", f"k{k}", "t", 10)
    assert t.size() == 5


def test_the_setting_reaches_the_table() -> None:
    pins = SessionPins(AffinitySettings(max_per_org=3, max_total=4))
    for org in range(3):
        for k in range(3):
            pins.table.put(f"o{org}", f"k{k}", "t", 60)
    assert pins.table.size() == 4
