"""Store contract: credits (balance, reservations, ledger) on every backend (see conftest.py), including exact
accounting under hundreds of concurrent reserve → settle/release flows."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from switchyard.stores import sql as sql_module
from switchyard.stores.base import Conflict, NotFound, Org
from switchyard.stores.sql import SQLStore

M = 1_000_000_000  # nano-dollars per USD


def uid() -> str:
    return uuid.uuid4().hex


def nanos(usd: float) -> int:
    return round(usd * M)


async def new_org(store: SQLStore, grant: float | None = None) -> Org:
    org = await store.create_org(f"credits-{uid()}")
    if grant is not None:
        await store.add_credits(org.id, grant, note="start")
    return org


async def ledger_sum(store: SQLStore, org_id: str) -> int:
    return sum(nanos(e.amount_usd) for e in await store.credit_ledger(org_id, limit=100_000))


# -- grants, adjustments, balance, ledger ----------------------------------------------------------------


async def test_org_without_account_has_nothing(store: SQLStore) -> None:
    org = await new_org(store)
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd, bal.available_usd) == (0.0, 0.0, 0.0)
    assert await store.credit_ledger(org.id) == []
    assert await store.reserve_credits(org.id, uid(), 0.01) is False, "no account: nothing to reserve"


async def test_add_credits_grant_and_adjust(store: SQLStore) -> None:
    org = await new_org(store)
    grant = await store.add_credits(org.id, 10.0, note="welcome")
    assert (grant.kind, grant.amount_usd, grant.note, grant.org_id, grant.request_id) == (
        "grant",
        10.0,
        "welcome",
        org.id,
        None,
    )
    adjust = await store.add_credits(org.id, -2.5)
    assert (adjust.kind, adjust.amount_usd, adjust.note) == ("adjust", -2.5, None)
    bal = await store.credit_balance(org.id)
    assert bal.balance_usd == 7.5 and bal.reserved_usd == 0.0
    assert await store.credit_ledger(org.id) == [adjust, grant], "newest first"


async def test_amounts_are_exact_nano_dollars(store: SQLStore) -> None:
    org = await new_org(store)
    for _ in range(3):
        await store.add_credits(org.id, 0.1)
    assert (await store.credit_balance(org.id)).balance_usd == 0.3, "0.1 + 0.1 + 0.1 is exactly 0.3 here"


async def test_rounding_is_half_away_from_zero(store: SQLStore) -> None:
    org = await new_org(store)
    assert (await store.add_credits(org.id, 0.0000000015)).amount_usd == 0.000000002
    assert (await store.add_credits(org.id, -0.0000000025)).amount_usd == -0.000000003
    assert (await store.add_credits(org.id, 0.0000000014)).amount_usd == 0.000000001
    assert nanos((await store.credit_balance(org.id)).balance_usd) == 0


@pytest.mark.parametrize("amount", [0.0, 0.0000000004, float("nan"), float("inf")])
async def test_add_credits_refuses_nothing_and_non_numbers(store: SQLStore, amount: float) -> None:
    org = await new_org(store)
    with pytest.raises(ValueError):
        await store.add_credits(org.id, amount)
    assert await store.credit_ledger(org.id) == []


async def test_add_credits_to_unknown_org_is_not_found(store: SQLStore) -> None:
    org_id = str(uuid.uuid4())
    with pytest.raises(NotFound):
        await store.add_credits(org_id, 5.0)
    assert (await store.credit_balance(org_id)).balance_usd == 0.0
    assert await store.credit_ledger(org_id) == []


async def test_ledger_paging_and_isolation(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    entries = [await store.add_credits(org.id, i + 1.0, note=f"n{i}") for i in range(5)]
    await store.add_credits(other.id, 99.0)
    newest_first = entries[::-1]
    assert await store.credit_ledger(org.id, limit=2) == newest_first[:2]
    assert await store.credit_ledger(org.id, limit=2, offset=2) == newest_first[2:4]
    assert await store.credit_ledger(org.id, limit=10, offset=4) == newest_first[4:]
    assert len({e.id for e in entries}) == 5


# -- reservations ----------------------------------------------------------------------------------------


async def test_reserve_holds_only_what_is_available(store: SQLStore) -> None:
    org = await new_org(store, 1.0)
    assert await store.reserve_credits(org.id, "r1", 0.6)
    assert not await store.reserve_credits(org.id, "r2", 0.5), "only 0.40 is available"
    assert await store.reserve_credits(org.id, "r3", 0.4)
    assert not await store.reserve_credits(org.id, "r4", 0.000001)
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd, bal.available_usd) == (1.0, 1.0, 0.0)
    await store.release_credits(org.id, "r1")
    await store.release_credits(org.id, "r3")


async def test_duplicate_reservation_id_conflicts_and_holds_nothing_extra(store: SQLStore) -> None:
    org = await new_org(store, 1.0)
    rid = uid()
    assert await store.reserve_credits(org.id, rid, 0.25)
    with pytest.raises(Conflict):
        await store.reserve_credits(org.id, rid, 0.25)
    assert (await store.credit_balance(org.id)).reserved_usd == 0.25
    await store.release_credits(org.id, rid)


async def test_settle_charges_the_real_cost_once(store: SQLStore) -> None:
    org = await new_org(store, 5.0)
    assert await store.reserve_credits(org.id, "call-1", 1.0)
    await store.settle_credits(org.id, "call-1", 0.123456, request_id="req-1")
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd) == (4.876544, 0.0)
    charge = (await store.credit_ledger(org.id))[0]
    assert (charge.kind, charge.amount_usd, charge.request_id) == ("charge", -0.123456, "req-1")
    await store.settle_credits(org.id, "call-1", 0.5, request_id="req-1")  # a replay: no effect
    await store.release_credits(org.id, "call-1")  # too late: no effect
    assert await store.credit_balance(org.id) == bal
    assert len(await store.credit_ledger(org.id)) == 2
    assert await ledger_sum(store, org.id) == nanos(bal.balance_usd)


async def test_settle_above_the_hold_charges_the_real_cost(store: SQLStore) -> None:
    org = await new_org(store, 1.0)
    assert await store.reserve_credits(org.id, "r", 0.1)
    await store.settle_credits(org.id, "r", 1.5)
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd) == (-0.5, 0.0)
    assert not await store.reserve_credits(org.id, "next", 0.000001)


async def test_release_returns_the_hold_without_a_charge(store: SQLStore) -> None:
    org = await new_org(store, 2.0)
    assert await store.reserve_credits(org.id, "r", 1.5)
    await store.release_credits(org.id, "r")
    await store.release_credits(org.id, "r")
    await store.settle_credits(org.id, "r", 1.0)  # after a release: no effect
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd) == (2.0, 0.0)
    assert [e.kind for e in await store.credit_ledger(org.id)] == ["grant"]


async def test_reservations_belong_to_their_org(store: SQLStore) -> None:
    org, other = await new_org(store, 1.0), await new_org(store, 1.0)
    assert await store.reserve_credits(org.id, "shared-name", 0.5)
    await store.settle_credits(other.id, "shared-name", 0.5)
    await store.release_credits(other.id, "shared-name")
    assert (await store.credit_balance(org.id)).reserved_usd == 0.5
    assert (await store.credit_balance(other.id)).balance_usd == 1.0
    await store.release_credits(org.id, "shared-name")


@pytest.mark.parametrize("amount", [-0.01, float("nan")])
async def test_reserve_refuses_negative_and_non_numbers(store: SQLStore, amount: float) -> None:
    org = await new_org(store, 1.0)
    with pytest.raises(ValueError):
        await store.reserve_credits(org.id, uid(), amount)
    assert (await store.credit_balance(org.id)).reserved_usd == 0.0


async def test_expire_releases_only_stale_reservations(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [sql_module.now_ms()]
    monkeypatch.setattr(sql_module, "now_ms", lambda: now[0])
    await store.expire_reservations(0)  # nothing else in this store is stale during this test
    org = await new_org(store, 3.0)
    assert await store.reserve_credits(org.id, "old-1", 1.0)
    assert await store.reserve_credits(org.id, "old-2", 0.5)
    now[0] += 5_000
    assert await store.reserve_credits(org.id, "young", 0.25)
    now[0] += 1_000
    assert await store.expire_reservations(10_000) == 0
    assert await store.expire_reservations(3_000) == 2
    assert await store.expire_reservations(3_000) == 0
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd) == (3.0, 0.25)
    await store.settle_credits(org.id, "old-1", 1.0)  # the crashed call's late settle: already released
    assert (await store.credit_balance(org.id)).balance_usd == 3.0
    await store.settle_credits(org.id, "young", 0.25)
    assert await store.credit_balance(org.id) == type(bal)(org.id, 2.75, 0.0)


# -- concurrency -----------------------------------------------------------------------------------------


async def test_exact_under_concurrent_reserve_settle_release(store: SQLStore) -> None:
    """300 concurrent calls reserve, then settle (a random cost up to the hold; twice, racing itself) or release
    (twice). The start balance covers only some of them at a time. The books must balance to the nano-dollar
    and no hold may ever exceed what was available."""
    rng = random.Random(20240605)
    start = 40 * M  # the 300 holds add up to ~150 USD
    org = await new_org(store, start / M)
    held = spent = 0  # a lower bound of what the database has committed to (see below)
    settled: list[int] = []
    granted = refused = 0
    done = asyncio.Event()

    async def call(i: int) -> None:
        nonlocal held, spent, granted, refused
        amount = rng.randint(1, 1_000_000_000)
        rid = f"{org.id}-{i}"
        await asyncio.sleep(rng.random() * 0.05)
        if not await store.reserve_credits(org.id, rid, amount / M):
            refused += 1
            return
        granted += 1
        # counted only after the reserve committed, and uncounted before settle/release starts, so
        # held + spent never exceeds what the database holds and charges: passing `start` is an overspend
        held += amount
        assert held + spent <= start, "a reservation succeeded beyond the available balance"
        await asyncio.sleep(rng.random() * 0.02)
        held -= amount
        if rng.random() < 0.7:
            cost = rng.randint(0, amount)
            spent += cost
            settled.append(cost)
            await asyncio.gather(
                *(store.settle_credits(org.id, rid, cost / M, request_id=rid) for _ in range(2))
            )
        else:
            await asyncio.gather(*(store.release_credits(org.id, rid) for _ in range(2)))

    async def watch() -> None:
        while not done.is_set():
            bal = await store.credit_balance(org.id)
            assert 0 <= nanos(bal.reserved_usd) <= nanos(bal.balance_usd), bal
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.gather(*(call(i) for i in range(300)))
    finally:
        done.set()
        await watcher
    assert granted and refused, f"the test must exercise both outcomes ({granted} granted, {refused} refused)"
    bal = await store.credit_balance(org.id)
    assert nanos(bal.balance_usd) == start - sum(settled)
    assert bal.reserved_usd == 0.0
    assert await ledger_sum(store, org.id) == nanos(bal.balance_usd)
    charges = [e for e in await store.credit_ledger(org.id, limit=10_000) if e.kind == "charge"]
    assert len(charges) == len(settled), "each settle charges once, even when it races a replay"


async def test_concurrent_reserves_never_overspend(store: SQLStore) -> None:
    """50 simultaneous holds of 0.10 against 1.00: exactly ten win."""
    org = await new_org(store, 1.0)
    results = await asyncio.gather(*(store.reserve_credits(org.id, f"{org.id}-{i}", 0.1) for i in range(50)))
    assert sum(results) == 10
    bal = await store.credit_balance(org.id)
    assert (bal.balance_usd, bal.reserved_usd) == (1.0, 1.0)
    for i, ok in enumerate(results):
        if ok:
            await store.release_credits(org.id, f"{org.id}-{i}")
