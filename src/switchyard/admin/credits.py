"""Prepaid credits: grants, the balance and the ledger as the admin API and the CLI show them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ..stores.base import CreditBalance, LedgerEntry, Org
from .base import Body, fields_json, store_errors

MAX_CREDIT_GRANT_USD = 1_000_000_000.0
LEDGER_FIELDS = ("id", "org_id", "created_at", "kind", "amount_usd", "request_id", "note")


class CreditGrant(Body):
    amount_usd: float = Field(ge=0.000001, le=MAX_CREDIT_GRANT_USD, allow_inf_nan=False)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


async def grant_credits(store: Any, org: Org, body: CreditGrant) -> LedgerEntry:
    with store_errors("organisation"):
        return await store.add_credits(org.id, body.amount_usd, body.note or None)


def balance_json(b: CreditBalance, org: Org) -> dict[str, Any]:
    return {
        "org_id": b.org_id,
        "credits_enabled": org.credits_enabled,
        "balance_usd": b.balance_usd,
        "reserved_usd": b.reserved_usd,
        "available_usd": b.available_usd,
    }


def ledger_json(e: LedgerEntry) -> dict[str, Any]:
    return fields_json(e, LEDGER_FIELDS)
