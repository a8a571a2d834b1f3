"""Credits for pass-through billing (PTB): per-organisation balance, holds for in-flight calls, and a ledger.
A mixin of `SQLStore`.

Money is integer nano-dollars inside (1 USD = 1,000,000,000; rounded half away from zero at the edge), so sums
are exact on every backend. Concurrency: a reservation is ONE conditional UPDATE
(`reserved = reserved + a WHERE balance - reserved >= a`), which PostgreSQL applies row-atomically (a
concurrent updater waits for the row and re-checks the condition) and SQLite applies under its single writer
lock. Every transaction here writes before it reads, so on SQLite it takes the write lock at its first
statement (waiting on busy_timeout) instead of reading a snapshot that another writer could invalidate.
Settle and release start by deleting the reservation row: whoever deletes it applies its effect, exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .base import Conflict, CreditBalance, LedgerEntry, NotFound
from .schema import credit_accounts, credit_ledger, credit_reservations, organizations
from .sql_errors import unavailable_on_db_error

NANOS_PER_USD = 1_000_000_000


def to_nanos(usd: float) -> int:
    """USD → integer nano-dollars, rounding half away from zero (0.0000000015 → 2, -0.0000000015 → -2). The float's
    shortest decimal form is what gets rounded, so 0.1 is exactly 100,000,000."""
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd):
        raise ValueError(f"an amount in USD must be a finite number, not {usd!r}")
    return int((Decimal(repr(usd)) * NANOS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=str(row.id),
        org_id=row.org_id,
        created_at=row.created_at,
        kind=row.kind,
        amount_usd=to_usd(row.amount),
        request_id=row.request_id,
        note=row.note,
    )


async def _ledger(
    conn: AsyncConnection,
    org_id: str,
    t: int,
    kind: str,
    amount: int,
    request_id: str | None,
    note: str | None,
) -> LedgerEntry:
    stmt = insert(credit_ledger).values(
        org_id=org_id, created_at=t, kind=kind, amount=amount, request_id=request_id, note=note
    )
    ledger_id = (await conn.execute(stmt.returning(credit_ledger.c.id))).scalar_one()
    return LedgerEntry(
        id=str(ledger_id),
        org_id=org_id,
        created_at=t,
        kind=kind,
        amount_usd=to_usd(amount),
        request_id=request_id,
        note=note,
    )


async def _take_reservation(conn: AsyncConnection, org_id: str, reservation_id: str) -> int | None:
    """Delete the reservation and return its amount, or None when it is already gone (settled or released)."""
    stmt = (
        delete(credit_reservations)
        .where(credit_reservations.c.reservation_id == reservation_id)
        .where(credit_reservations.c.org_id == org_id)
        .returning(credit_reservations.c.amount)
    )
    return (await conn.execute(stmt)).scalar()


class CreditsMixin:
    engine: AsyncEngine
    _now: Callable[[], int]
    _insert: Any  # the dialect's insert (for ON CONFLICT)

    async def add_credits(self, org_id: str, amount_usd: float, note: str | None = None) -> LedgerEntry:
        """A positive amount is a "grant", a negative one an "adjust"; the account is created on first use.
        NotFound for an unknown organisation; ValueError for a zero or non-finite amount."""
        amount = to_nanos(amount_usd)
        if amount == 0:
            raise ValueError("a credit change must be at least one nano-dollar")
        t = self._now()
        upsert = self._insert(credit_accounts).values(org_id=org_id, balance=amount, reserved=0, updated_at=t)
        upsert = upsert.on_conflict_do_update(
            index_elements=[credit_accounts.c.org_id],
            set_={"balance": credit_accounts.c.balance + amount, "updated_at": t},
        )
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(upsert)
                if (
                    await conn.execute(select(organizations.c.id).where(organizations.c.id == org_id))
                ).first() is None:
                    raise NotFound(f"no organisation with id {org_id}")
                return await _ledger(conn, org_id, t, "grant" if amount > 0 else "adjust", amount, None, note)

    async def credit_balance(self, org_id: str) -> CreditBalance:
        """An organisation without an account has nothing: zero balance, zero reserved."""
        stmt = select(credit_accounts.c.balance, credit_accounts.c.reserved).where(
            credit_accounts.c.org_id == org_id
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                row = (await conn.execute(stmt)).first()
        if row is None:
            return CreditBalance(org_id=org_id, balance_usd=0.0, reserved_usd=0.0)
        return CreditBalance(
            org_id=org_id, balance_usd=to_usd(row.balance), reserved_usd=to_usd(row.reserved)
        )

    async def credit_ledger(self, org_id: str, limit: int = 100, offset: int = 0) -> list[LedgerEntry]:
        """Newest first."""
        stmt = (
            select(credit_ledger)
            .where(credit_ledger.c.org_id == org_id)
            .order_by(credit_ledger.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [_entry(r) for r in rows]

    async def reserve_credits(self, org_id: str, reservation_id: str, amount_usd: float) -> bool:
        """Hold `amount_usd` for an in-flight call. False when the available balance (balance − reserved) is
        short or the organisation has no account. Conflict when `reservation_id` is already in use."""
        amount = to_nanos(amount_usd)
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        hold = (
            update(credit_accounts)
            .where(credit_accounts.c.org_id == org_id)
            .where(credit_accounts.c.balance - credit_accounts.c.reserved >= amount)
            .values(reserved=credit_accounts.c.reserved + amount)
        )
        try:
            with unavailable_on_db_error():
                async with self.engine.begin() as conn:
                    if not (await conn.execute(hold)).rowcount:
                        return False
                    await conn.execute(
                        insert(credit_reservations).values(
                            reservation_id=reservation_id,
                            org_id=org_id,
                            amount=amount,
                            created_at=self._now(),
                        )
                    )
        except IntegrityError:  # the hold rolled back with the failed insert
            raise Conflict(f"reservation {reservation_id!r} already exists") from None
        return True

    async def settle_credits(
        self, org_id: str, reservation_id: str, cost_usd: float, request_id: str | None = None
    ) -> None:
        """Replace the hold with the real cost: one "charge" ledger row. A second settle, or a settle after a
        release or expiry, does nothing. The cost may exceed the hold (the balance then goes below zero)."""
        cost = to_nanos(cost_usd)
        if cost < 0:
            raise ValueError("a charge cannot be negative")
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                held = await _take_reservation(conn, org_id, reservation_id)
                if held is None:
                    return
                t = self._now()
                await conn.execute(
                    update(credit_accounts)
                    .where(credit_accounts.c.org_id == org_id)
                    .values(
                        reserved=credit_accounts.c.reserved - held,
                        balance=credit_accounts.c.balance - cost,
                        updated_at=t,
                    )
                )
                await _ledger(conn, org_id, t, "charge", -cost, request_id, None)

    async def release_credits(self, org_id: str, reservation_id: str) -> None:
        """Drop the hold without a charge (the call failed or was never made). Idempotent."""
        await self._release(org_id, reservation_id)

    async def _release(self, org_id: str, reservation_id: str) -> bool:
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                held = await _take_reservation(conn, org_id, reservation_id)
                if held is None:
                    return False
                await conn.execute(
                    update(credit_accounts)
                    .where(credit_accounts.c.org_id == org_id)
                    .values(reserved=credit_accounts.c.reserved - held)
                )
        return True

    async def expire_reservations(self, older_than_ms: int) -> int:
        """Release reservations created more than `older_than_ms` milliseconds ago (an AGE, e.g.
        `reservation_ttl_seconds * 1000`), left by a process that died between reserve and settle. Returns how
        many this call released; one settled or released concurrently is not counted."""
        cutoff = self._now() - older_than_ms
        stmt = select(credit_reservations.c.org_id, credit_reservations.c.reservation_id).where(
            credit_reservations.c.created_at < cutoff
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                stale = (await conn.execute(stmt)).all()
        released = 0
        for org_id, reservation_id in stale:
            released += await self._release(org_id, reservation_id)
        return released
