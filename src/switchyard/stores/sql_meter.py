"""The Stripe meter's cursor and ledger (`meter_cursors`, `meter_events`) on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from .dialect_insert import insert_for
from .schema_meter import meter_cursors, meter_events
from .sql_errors import unavailable_on_db_error


@dataclass(frozen=True)
class Settled:
    """One meter event's outcome with Stripe, as the ledger keeps it."""

    identifier: str
    org_id: str
    customer: str
    event_name: str
    period_start: int
    value: int
    status: str  # sent | duplicate | rejected
    error: str | None = None


class MeterLedger:
    def __init__(self, store: Any) -> None:
        self.engine = store.engine
        self._insert = insert_for(store.dialect)

    async def cursor(self, name: str) -> int | None:
        """The end (ms, exclusive) of the last period of `name` whose events are all settled; None: never started."""
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                q = select(meter_cursors.c.period_end).where(meter_cursors.c.name == name)
                return (await conn.execute(q)).scalar()

    async def start_cursor(self, name: str, period_end: int) -> int:
        """Set the cursor of `name` unless it has one; returns the stored value (the first writer wins)."""
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    self._insert(meter_cursors)
                    .values(name=name, period_end=period_end, updated_at=_now())
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                q = select(meter_cursors.c.period_end).where(meter_cursors.c.name == name)
                return int((await conn.execute(q)).scalar_one())

    async def advance(self, name: str, old: int, new: int) -> bool:
        """Compare-and-set the cursor from `old` to `new`; False when another process moved it first."""
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                n = (
                    await conn.execute(
                        update(meter_cursors)
                        .where((meter_cursors.c.name == name) & (meter_cursors.c.period_end == old))
                        .values(period_end=new, updated_at=_now())
                    )
                ).rowcount
        return n == 1

    async def settled_among(self, identifiers: Iterable[str]) -> set[str]:
        ids = list(identifiers)
        found: set[str] = set()
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                for i in range(0, len(ids), 500):
                    q = select(meter_events.c.identifier).where(
                        meter_events.c.identifier.in_(ids[i : i + 500])
                    )
                    found.update(r[0] for r in await conn.execute(q))
        return found

    async def record(self, s: Settled) -> None:
        """Keep one settled event (a second record of the same identifier is ignored)."""
        row = {
            "identifier": s.identifier,
            "org_id": s.org_id,
            "customer": s.customer,
            "event_name": s.event_name,
            "period_start": s.period_start,
            "value": s.value,
            "status": s.status,
            "error": (s.error or "")[:300] or None,
            "settled_at": _now(),
        }
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    self._insert(meter_events)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["identifier"])
                )

    async def events(self, since_ms: int = 0) -> list[Settled]:
        """Settled events of periods from `since_ms` on, oldest first (tests and operators' checks)."""
        m = meter_events.c
        q = select(
            m.identifier, m.org_id, m.customer, m.event_name, m.period_start, m.value, m.status, m.error
        )
        q = q.where(m.period_start >= since_ms).order_by(m.period_start, m.identifier)
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return [Settled(*r) for r in await conn.execute(q)]

    async def count(self) -> int:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(meter_events))).scalar_one())


def _now() -> int:
    return int(time.time() * 1000)
