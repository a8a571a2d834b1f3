"""pipeline/credits.py + credit_journal.py on a real SQLite store: holds of a killed process are settled (or released)
by the next one; settlements refused by a store outage are retried; a clean shutdown leaves no journal."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from switchyard.pipeline.credit_journal import CreditJournal
from switchyard.pipeline.credits import Credits, Hold
from switchyard.stores.base import StoreUnavailable
from switchyard.stores.sql import SQLStore


@pytest.fixture
async def store(tmp_path: Path):
    s = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    await s.migrate()
    yield s
    await s.close()


async def funded_org(store: SQLStore, usd: float = 10.0) -> str:
    org = await store.create_org("journal-test")
    await store.add_credits(org.id, usd, note="start")
    return org.id


_CHILD = """
import asyncio, os, signal, sys
from pathlib import Path
from switchyard.pipeline.credit_journal import CreditJournal
from switchyard.pipeline.credits import Credits, Hold
from switchyard.stores.sql import SQLStore

async def main():
    db, journal_dir, org = sys.argv[1:4]
    store = SQLStore(f"sqlite:///{db}")
    credits = Credits(store, journal=CreditJournal(Path(journal_dir)))
    holds = []
    for name in ("answered", "in-flight", "failed"):
        assert await store.reserve_credits(org, name, 1.0)
        credits._note({"op": "reserve", "org": org, "rid": name})  # as Credits.reserve does after the store said yes
        holds.append(Hold(org, name, 1.0))
    credits.release(holds[2])
    credits.settle(holds[0], 0.25, "req-answered")  # the answer goes out now; the settlement task has not run yet
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_holds_of_a_killed_process_are_settled_by_the_next_one(store: SQLStore, tmp_path: Path) -> None:
    org = await funded_org(store)
    journal_dir = tmp_path / "spool" / "credits"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "db.sqlite"), str(journal_dir), org],
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr.decode()
    before = await store.credit_balance(org)
    assert before.reserved_usd == 3.0 and before.balance_usd == 10.0, "the killed process settled nothing"
    [left] = list(journal_dir.iterdir())
    assert stat.S_IMODE(left.stat().st_mode) == 0o600 and stat.S_IMODE(journal_dir.stat().st_mode) == 0o700

    credits = Credits(store, journal=CreditJournal(journal_dir), sweep_interval=3600)
    await credits.start()  # the next process
    try:
        after = await store.credit_balance(org)
        assert after.reserved_usd == 0, "every hold ended: settled, released, or released as never answered"
        assert after.balance_usd == pytest.approx(9.75), "the answered call is charged its recorded cost"
        charges = [e for e in await store.credit_ledger(org) if e.kind == "charge"]
        assert [(e.amount_usd, e.request_id) for e in charges] == [(-0.25, "req-answered")]
        assert not left.exists(), "a finished journal is deleted"
    finally:
        await credits.drain()
    assert list(journal_dir.iterdir()) == []


class Flaky:
    """The real store, with settlements refused while `down`."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.down = False

    async def settle_credits(self, *a: Any) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")
        await self.store.settle_credits(*a)

    async def release_credits(self, *a: Any) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")
        await self.store.release_credits(*a)

    async def expire_reservations(self, older_than_ms: int) -> int:
        return 0


async def test_a_settlement_refused_by_an_outage_is_retried_later(store: SQLStore, tmp_path: Path) -> None:
    org = await funded_org(store)
    flaky = Flaky(store)
    credits = Credits(
        flaky, journal=CreditJournal(tmp_path / "credits"), sweep_interval=0.05, retry_delays=(0.0, 0.01)
    )
    await credits.start()
    try:
        assert await store.reserve_credits(org, "r1", 1.0)
        flaky.down = True
        credits.settle(Hold(org, "r1", 1.0), 0.5, "req-1")
        await asyncio.sleep(
            0.2
        )  # the settlement task gave up; before: the hold waited for the expiry sweep (free)
        assert (await store.credit_balance(org)).reserved_usd == 1.0
        flaky.down = False
        for _ in range(100):
            if (await store.credit_balance(org)).reserved_usd == 0:
                break
            await asyncio.sleep(0.02)
        balance = await store.credit_balance(org)
        assert balance.reserved_usd == 0 and balance.balance_usd == pytest.approx(9.5)
    finally:
        await credits.drain()
    assert not (tmp_path / "credits").exists() or list((tmp_path / "credits").iterdir()) == []


async def test_the_journal_stays_small(tmp_path: Path) -> None:
    journal = CreditJournal(tmp_path, compact_bytes=4096)
    for i in range(500):
        journal.record({"op": "reserve", "org": "o", "rid": f"r{i}"})
        journal.record({"op": "settle", "org": "o", "rid": f"r{i}", "cost": 0.1, "req": f"q{i}"})
        journal.applied(f"r{i}")
    journal.record({"op": "reserve", "org": "o", "rid": "still-open"})
    assert journal.path.stat().st_size < 4096 + 200
    other = CreditJournal(tmp_path / "elsewhere")
    journal.close()
    assert journal.path.exists(), "an open hold keeps the journal for the next process"
    assert other.orphans() == []
