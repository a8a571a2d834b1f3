"""Stripe meter events (observe/stripe_meter.py) against a loopback stand-in of Stripe's endpoint
(support/stripe_standin.py), driven by the official `stripe` client: each organisation, customer, period and kind
sent once with the right values; a 500 and a 429 retried; nothing resent after a restart, a crash between Stripe's
answer and the cursor, or a second replica; refused events settled without stalling the meter; the secret key in
no log line. The last test runs a real gateway whose lifespan sends the events of a real request."""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from support.gateway import GatewayProcess, default_config, free_port
from support.stripe_standin import StripeStandIn
from switchyard.config import ConfigError, Settings, StripeMeterSettings, load_settings
from switchyard.observe.stripe_client import MeterEvent, StripeMeterClient
from switchyard.observe.stripe_meter import CURSOR, StripeMeter, identifier
from switchyard.stores.schema_meter import meter_cursors, meter_events
from switchyard.stores.sql import SQLStore
from switchyard.stores.sql_webhooks import WebhookStore
from switchyard.stores.usage_report import CUSTOMER_PROPERTY

SECRET = "sk_test_" + "51StandIn" + secrets.token_hex(12)
PG_URL = os.environ.get("SWITCHYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MINUTE = 60_000
METERS = {"requests": "sy_requests", "total_tokens": "sy_tokens", "cost_micro_usd": "sy_cost"}
# billing.stripe.orgs of the tests' meters: the organisations each test creates (a fresh store per test).
LISTED = [
    "meter-a",
    "meter-b",
    "meter-retry",
    "meter-restart",
    "meter-refused",
    "meter-secret",
    "meter-outage",
    "meter-long",
    "meter-lease",
]


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeStandIn]:
    s = StripeStandIn(SECRET).start()
    yield s
    s.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SQLStore]:
    """A fresh store per test: the meter reads every organisation's usage."""
    if request.param == "sqlite":
        s = SQLStore(f"sqlite:///{tmp_path / 'sy.db'}")
    else:
        s = SQLStore(PG_URL, schema=f"sy_meter_{secrets.token_hex(5)}")
    await s.migrate()
    yield s
    if request.param == "postgres":
        async with s.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{s.schema}" CASCADE')
    await s.close()


def settings(api: StripeStandIn, **kw: Any) -> StripeMeterSettings:
    base = {
        "secret_key": SECRET,
        "api_base": api.url,
        "meters": METERS,
        "interval_seconds": 60,
        "settle_seconds": 5,
        "max_network_retries": 0,
        "orgs": LISTED,
    }
    return StripeMeterSettings.model_validate({**base, **kw})


def meter(store: SQLStore, api: StripeStandIn, **kw: Any) -> StripeMeter:
    """A meter as the lifespan builds it (StripeMeter.build) from these settings."""
    full = Settings.model_validate({"billing": {"stripe": settings(api, **kw).model_dump()}})
    m = StripeMeter.build(store, WebhookStore(store).lease, full)
    assert m is not None
    return m


def row(
    org_id: str,
    customer: str | None,
    at: int,
    pt: int = 10,
    ct: int = 5,
    cost: float | None = 0.001,
    latency_ms: float = 10.0,
) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "key_id": None,
        "created_at": at,
        "path": "/v1/chat/completions",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "status": 200,
        "stream": False,
        "cache_hit": False,
        "latency_ms": latency_ms,
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "total_tokens": pt + ct,
        "cost_usd": cost,
        "properties": {CUSTOMER_PROPERTY: customer} if customer else {},
        "attempts": [],
    }


def period_start() -> int:
    """A minute period that ended ten minutes ago (Stripe takes timestamps up to 35 days old)."""
    now = int(time.time() * 1000)
    return now - now % MINUTE - 10 * MINUTE


def mine(api: StripeStandIn, ids: set[str]) -> list[dict[str, Any]]:
    return [e for e in api.events if e["identifier"] in ids]


async def test_each_customer_and_period_is_sent_once_with_its_values(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    a, b = await store.create_org("meter-a"), await store.create_org("meter-b")
    p0 = period_start()
    m = meter(store, stripe_api)
    assert await m.round(now_ms=p0 + 1000) == 0  # switched on during p0: the cursor starts at p0
    assert await m.ledger.cursor(CURSOR) == p0
    await store.insert_requests(
        [
            row(a.id, "cus_A", p0 + 1),
            row(a.id, "cus_A", p0 + 30_000, pt=100, ct=20, cost=0.0125),
            row(a.id, "cus_B", p0 + 2, cost=None),  # unpriced: no cost event
            row(a.id, None, p0 + 3),  # no customer: not metered
            row(b.id, "cus_A", p0 + 4),  # the same customer in another organisation: its own events
            row(a.id, "cus_A", p0 + MINUTE + 5),  # the next period
        ]
    )
    assert await m.round(now_ms=p0 + MINUTE + 4_000) == 0  # p0 ended, but is not settled yet
    sent = await m.round(now_ms=p0 + MINUTE + 5_000)
    expected = {
        ("sy_requests", "cus_A", "2", a.id),
        ("sy_tokens", "cus_A", "135", a.id),
        ("sy_cost", "cus_A", "13500", a.id),
        ("sy_requests", "cus_B", "1", a.id),
        ("sy_tokens", "cus_B", "15", a.id),
        ("sy_requests", "cus_A", "1", b.id),
        ("sy_tokens", "cus_A", "15", b.id),
        ("sy_cost", "cus_A", "1000", b.id),
    }
    ids = {identifier(org, cus, p0, p0 + MINUTE, name) for name, cus, _, org in expected}
    got = mine(stripe_api, ids)
    assert sent == len(expected) == len(got)
    by_id = {e["identifier"]: e for e in got}
    for name, cus, value, org in expected:
        e = by_id[identifier(org, cus, p0, p0 + MINUTE, name)]
        assert (e["event_name"], e["payload"], e["timestamp"]) == (
            name,
            {"stripe_customer_id": cus, "value": value},
            p0 // 1000,
        )
    assert await m.ledger.cursor(CURSOR) == p0 + MINUTE
    # Later rounds: p0 is never sent again; p1 goes once it is settled.
    before = len(stripe_api.events)
    assert await m.round(now_ms=p0 + MINUTE + 6_000) == 0
    assert await m.round(now_ms=p0 + 2 * MINUTE + 5_000) == 3
    assert len(stripe_api.events) == before + 3
    assert {s.status for s in await m.ledger.events(p0)} == {"sent"}


async def test_a_500_and_a_429_are_retried_and_each_event_lands_once(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    org = await store.create_org("meter-retry")
    p0 = period_start()
    m = meter(store, stripe_api)
    await m.round(now_ms=p0)
    await store.insert_requests([row(org.id, "cus_R1", p0 + 1), row(org.id, "cus_R2", p0 + 2)])
    now = p0 + MINUTE + 5_000
    ids = {identifier(org.id, c, p0, p0 + MINUTE, n) for c in ("cus_R1", "cus_R2") for n in METERS.values()}

    stripe_api.fail_next(500)
    assert await m.round(now_ms=now) == 0
    assert m.failures == 1 and await m.ledger.cursor(CURSOR) == p0  # the period stays open
    n_requests = len(stripe_api.requests)
    assert await m.round(now_ms=now) == 0  # backing off: no request at all
    assert len(stripe_api.requests) == n_requests
    m.not_before = 0.0  # the backoff has passed
    stripe_api.fail_next(429)
    assert await m.round(now_ms=now) == 0
    assert m.failures == 2
    m.not_before = 0.0
    assert await m.round(now_ms=now) == 6
    assert m.failures == 0 and await m.ledger.cursor(CURSOR) == p0 + MINUTE
    assert sorted(e["identifier"] for e in mine(stripe_api, ids)) == sorted(ids)

    # The client's own retry (max_network_retries): one 500 inside a round, the same Idempotency-Key twice.
    p1 = p0 + MINUTE
    await store.insert_requests([row(org.id, "cus_R3", p1 + 1)])
    m2 = meter(store, stripe_api, max_network_retries=2)
    m2.holder = m.holder  # the same process, restarted with retries on
    stripe_api.fail_next(500)
    n_requests = len(stripe_api.requests)
    assert await m2.round(now_ms=p1 + MINUTE + 5_000) == 3
    tries = stripe_api.requests[n_requests:]
    assert len(tries) == 4
    assert tries[0]["headers"]["Idempotency-Key"] == tries[1]["headers"]["Idempotency-Key"]
    assert tries[0]["headers"]["Idempotency-Key"] == dict(tries[1]["form"])["identifier"]


async def test_nothing_is_resent_after_a_restart_a_crash_or_by_a_second_replica(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    org = await store.create_org("meter-restart")
    p0 = period_start() - 5 * MINUTE
    first = meter(store, stripe_api)
    await first.round(now_ms=p0)
    await store.insert_requests([row(org.id, "cus_X", p0 + 1), row(org.id, "cus_X", p0 + MINUTE + 1)])
    ids0 = {identifier(org.id, "cus_X", p0, p0 + MINUTE, n) for n in METERS.values()}
    assert await first.round(now_ms=p0 + MINUTE + 5_000) == 3

    # A second replica while the first holds the lease: sends nothing.
    other = meter(store, stripe_api)
    assert await other.round(now_ms=p0 + 2 * MINUTE + 5_000) == 0

    # A restart (a new process; the old lease has expired): only the next period goes out.
    restarted = meter(store, stripe_api)
    later = p0 + 2 * MINUTE + 5_000 + 120_000
    assert await restarted.round(now_ms=later) == 3
    assert len(mine(stripe_api, ids0)) == 3

    # A crash after Stripe's answer but before the cursor moved: the ledger stops the resend.
    async with store.engine.begin() as conn:
        await conn.execute(update(meter_cursors).values(period_end=p0))
    assert await meter(store, stripe_api).round(now_ms=later + 200_000) == 0
    assert len(mine(stripe_api, ids0)) == 3

    # A crash before the ledger write: Stripe replays its first answers (same Idempotency-Key): settled, not resent.
    async with store.engine.begin() as conn:
        await conn.execute(update(meter_cursors).values(period_end=p0))
        await conn.execute(delete(meter_events).where(meter_events.c.period_start == p0))
    again = meter(store, stripe_api)
    assert await again.round(now_ms=later + 400_000) == 0
    assert len(mine(stripe_api, ids0)) == 3
    assert {s.status for s in await again.ledger.events(p0) if s.period_start == p0} == {"duplicate"}
    assert (await again.ledger.cursor(CURSOR) or 0) >= p0 + 2 * MINUTE


async def test_a_refused_event_is_recorded_and_does_not_stall_the_meter(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    org = await store.create_org("meter-refused")
    p0 = period_start()
    m = meter(store, stripe_api, meters={"requests": "x" * 100})
    m.client._customer_key = "customer"  # a meter whose customer key Stripe's meter does not know
    await m.round(now_ms=p0)
    await store.insert_requests([row(org.id, "cus_Z", p0 + 1)])
    assert await m.round(now_ms=p0 + MINUTE + 5_000) == 0
    [settled] = await m.ledger.events(p0)
    assert settled.status == "rejected" and "payload[stripe_customer_id]" in (settled.error or "")
    assert await m.ledger.cursor(CURSOR) == p0 + MINUTE


async def test_the_stand_in_refuses_what_stripe_refuses(stripe_api: StripeStandIn) -> None:
    import stripe

    c = stripe.StripeClient(
        SECRET, base_addresses={"api": stripe_api.url}, http_client=stripe.RequestsClient()
    )
    ev = c.v1.billing.meter_events
    ok = {"event_name": "e", "payload": {"stripe_customer_id": "cus_1", "value": "3"}}
    with pytest.raises(stripe.InvalidRequestError) as e1:
        ev.create(ok)  # type: ignore[arg-type]
    assert e1.value.param == "identifier" and e1.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as e2:
        ev.create(
            {
                **ok,
                "identifier": "i-" + uuid.uuid4().hex,
                "payload": {"stripe_customer_id": "c", "value": "x"},
            }
        )
    assert e2.value.param == "payload[value]"
    with pytest.raises(stripe.InvalidRequestError) as e3:
        ev.create({**ok, "identifier": "i-" + uuid.uuid4().hex, "timestamp": int(time.time()) - 36 * 86_400})
    assert e3.value.param == "timestamp"
    ident = "i-" + uuid.uuid4().hex
    assert ev.create({**ok, "identifier": ident}).identifier == ident
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        ev.create({**ok, "identifier": ident})
    key = uuid.uuid4().hex
    ev.create({**ok, "identifier": key}, {"idempotency_key": key})
    ev.create({**ok, "identifier": key}, {"idempotency_key": key})  # replayed, not refused
    with pytest.raises(stripe.IdempotencyError):
        ev.create(
            {**ok, "identifier": key, "payload": {"stripe_customer_id": "c", "value": "4"}},
            {"idempotency_key": key},
        )
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_test_wrongwrongwrong", base_addresses={"api": stripe_api.url}
        ).v1.billing.meter_events.create({**ok, "identifier": uuid.uuid4().hex})
    client = StripeMeterClient(SECRET, api_base=stripe_api.url, max_network_retries=0)
    dup = MeterEvent(ident, "e", "cus_1", 3, int(time.time()), "org", 0)
    assert (await client.send(dup))[0] == "duplicate"


async def test_the_secret_key_is_never_logged(
    store: SQLStore,
    stripe_api: StripeStandIn,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stripe

    monkeypatch.setattr(stripe, "log", "debug")  # the stripe package's own request and response logging
    caplog.set_level(logging.DEBUG)
    org = await store.create_org("meter-secret")
    p0 = period_start()
    wrong = "sk_test_" + "Wrong" + secrets.token_hex(12)
    bad = meter(store, stripe_api, secret_key=wrong)
    await bad.round(now_ms=p0)
    await store.insert_requests([row(org.id, "cus_S", p0 + 1)])
    assert await bad.round(now_ms=p0 + MINUTE + 5_000) == 0  # 401: logged, retried later
    assert "AuthenticationError 401" in caplog.text
    good = meter(store, stripe_api)
    good.holder = bad.holder
    assert await good.round(now_ms=p0 + MINUTE + 5_000) == 3
    assert "Request to Stripe api" in caplog.text  # the package's debug logging was on
    for secret in (wrong, SECRET):
        assert secret not in caplog.text
        assert secret not in repr(bad) + repr(good.client) + repr(settings(stripe_api))
    assert wrong in stripe_api.requests[-4]["headers"]["Authorization"]  # it was really sent, and not logged


def test_a_malformed_key_fails_the_start_without_echoing_it(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("billing:\n  stripe:\n    secret_key: ${STRIPE_SECRET_KEY}\n")
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={"STRIPE_SECRET_KEY": "pk_live_publishable_0123456789"})
    assert "billing.stripe.secret_key" in str(e.value) and "pk_live" not in str(e.value)
    assert load_settings(str(cfg), env={}).billing.stripe.secret_key is None  # unset: metering off


def test_a_gateway_sends_its_requests_usage_to_stripe(
    upstream: Any, stripe_api: StripeStandIn, tmp_path_factory: pytest.TempPathFactory
) -> None:
    billing = {
        "stripe": {
            "secret_key": "${STRIPE_SECRET_KEY}",
            "api_base": stripe_api.url,
            "meters": {"requests": "gw_requests", "total_tokens": "gw_tokens"},
            "interval_seconds": 1,
            "settle_seconds": 0.5,
            "poll_seconds": 0.2,
            "orgs": ["test"],  # the organisation of gw.prepare()'s key; "tenant" is not listed
        }
    }
    gw = GatewayProcess(
        tmp_path_factory.mktemp("meter-gw"),
        default_config(upstream.url, free_port(), billing=billing),
        env={"STRIPE_SECRET_KEY": SECRET},
    )
    gw.prepare()
    tenant_key = gw.new_key("tenant")
    gw.start()
    try:
        customer = "cus_gw_" + uuid.uuid4().hex[:8]
        time.sleep(1.5)  # the first period starts when the meter does
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json=chat,
            headers={**gw.headers(), "Helicone-Stripe-Customer-Id": customer},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        other = httpx.post(  # an unlisted organisation naming the same customer and its own: never metered
            f"{gw.url}/v1/chat/completions",
            json=chat,
            headers={**gw.headers(tenant_key), "Helicone-Stripe-Customer-Id": customer},
            timeout=30,
        )
        assert other.status_code == 200, other.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = [e for e in stripe_api.events if e["payload"]["stripe_customer_id"] == customer]
            if len(got) == 2:
                break
            time.sleep(0.1)
        assert {(e["event_name"], e["payload"]["value"]) for e in got} == {
            ("gw_requests", "1"),
            ("gw_tokens", str(r.json()["usage"]["total_tokens"])),
        }
        time.sleep(
            1.5
        )  # a further period: the tenant's request, had it been metered, would have gone with it
        got = [e for e in stripe_api.events if e["payload"]["stripe_customer_id"] == customer]
        assert len(got) == 2
        log = gw.log_path.read_text()
    finally:
        gw.stop()
    assert SECRET not in log + (gw.home / "switchyard.yaml").read_text()


def test_the_configuration_in_docs_billing_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "billing.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "c.yaml").write_text(block)
    s = load_settings(str(tmp_path / "c.yaml"), env={"STRIPE_SECRET_KEY": SECRET}).billing.stripe
    assert s.orgs == ["acme"]
    assert s.secret_key == SECRET and s.meters == {
        "total_tokens": "switchyard_tokens",
        "cost_micro_usd": "switchyard_cost",
    }


async def test_after_a_long_outage_the_too_old_periods_are_skipped_at_once_and_the_rest_caught_up(
    store: SQLStore, stripe_api: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Review finding S2 (docs/security.md §9): 40 days down with minute periods. Before, every too-old period was
    skipped one at a time (a warning and a cursor write each, 48 a round every `poll_seconds`: 57,600 warnings and
    ~10 hours before the first period Stripe still accepts was even looked at)."""
    from switchyard.observe.stripe_meter import MAX_AGE_MS, MAX_PERIODS_PER_ROUND

    org = await store.create_org("meter-outage")
    now = period_start() + 10 * MINUTE
    m = meter(store, stripe_api)
    first = now - now % MINUTE - 40 * 86_400_000
    assert await m.ledger.start_cursor(CURSOR, first) == first  # switched on, then 40 days without a round
    oldest_ok = first + -(-(now - MAX_AGE_MS - first) // MINUTE) * MINUTE  # first period Stripe still takes
    await store.insert_requests([row(org.id, "cus_O", oldest_ok + 1)])
    caplog.set_level(logging.WARNING, logger="switchyard.stripe_meter")
    assert await m.round(now_ms=now) == 3  # the oldest period Stripe accepts is sent in the first round
    skipped = [r for r in caplog.records if "older than Stripe accepts" in r.getMessage()]
    assert len(skipped) == 1
    assert await m.ledger.cursor(CURSOR) == oldest_ok + MAX_PERIODS_PER_ROUND * MINUTE
    assert m.behind  # the next round starts at once rather than after poll_seconds


async def test_a_request_logged_after_its_start_period_was_sent_is_billed_in_the_period_it_finished(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    """Review finding S3 (docs/security.md §9): periods were cut by a row's creation (the request's start), but a
    row is written when the request ends, and a stream may run for up to an hour (24 with Switchyard-Timeout-Ms),
    far past `settle_seconds` (2 minutes). Its period was already sent when it landed, and it was never billed."""
    org = await store.create_org("meter-long")
    p0 = period_start() - 20 * MINUTE
    m = meter(store, stripe_api)
    await m.round(now_ms=p0)
    assert await m.round(now_ms=p0 + MINUTE + 5_000) == 0  # p0 sent: nothing had finished in it
    # a 5-minute stream that started in p0 ends (and is logged) in p0 + 5
    await store.insert_requests([row(org.id, "cus_L", p0 + 30_000, latency_ms=5 * MINUTE)])
    sent = 0
    for k in range(2, 8):
        sent += await m.round(now_ms=p0 + k * MINUTE + 5_000)
    ends = p0 + 5 * MINUTE
    ids = {identifier(org.id, "cus_L", ends, ends + MINUTE, n) for n in METERS.values()}
    assert sent == 3 and len(mine(stripe_api, ids)) == 3


async def test_a_holder_sending_a_long_period_keeps_its_lease(
    store: SQLStore, stripe_api: StripeStandIn
) -> None:
    """Review finding S4 (docs/security.md §9): the lease was renewed only between periods, so a period taking longer
    than the lease (many customers, a slow Stripe: one call may take its timeout × retries) let a second replica
    take over and send the same period at the same time — harmless for the bill (same identifiers), but every
    event sent twice and the replicas racing on Stripe's idempotency keys. The holder now renews while it sends."""
    import asyncio

    org = await store.create_org("meter-lease")
    p0 = period_start() - 30 * MINUTE
    first = meter(store, stripe_api)
    first.lease_ms = 400  # (60 s or 3 × poll_seconds in service)
    await first.round(now_ms=p0)
    await store.insert_requests([row(org.id, f"cus_{i}", p0 + 1 + i) for i in range(4)])
    send, renewals = first.client.send, []

    async def slow_send(e: MeterEvent) -> tuple[str, str | None]:
        await asyncio.sleep(0.1)
        return await send(e)

    lease = first._lease

    async def counted(*a: Any) -> bool:
        renewals.append(a)
        return await lease(*a)

    first.client.send, first._lease = slow_send, counted  # type: ignore[method-assign]
    now = p0 + MINUTE + 5_000
    task = asyncio.create_task(first.round(now_ms=now))
    await asyncio.sleep(0.8)  # twice the lease into a 1.2 s period
    other = meter(store, stripe_api)
    other.lease_ms = 400
    assert await other.round(now_ms=now + 800) == 0  # the lease is still the sender's
    assert await task == 12
    assert len(renewals) >= 4  # renewed while sending (before: at the start and after the period only)


async def test_only_the_organisations_in_billing_stripe_orgs_are_metered(
    store: SQLStore, stripe_api: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Review finding S6 (docs/security.md §9): one Stripe key metered every organisation, and the customer is the
    caller's header, so any gateway key holder could put usage on any customer of the operator's Stripe account.
    Now only the listed organisations (by name or id) are metered; the others send nothing, headers or not."""
    a, b = await store.create_org("listed-by-name"), await store.create_org("listed-by-id")
    tenant = await store.create_org("tenant")
    p0 = period_start() - 40 * MINUTE
    caplog.set_level(logging.WARNING, logger="switchyard.stripe_meter")
    m = meter(store, stripe_api, orgs=["listed-by-name", b.id, "later"])
    await m.start()  # the lifespan's start: "later" is no organisation yet, said once
    await m.close()
    await m.round(now_ms=p0)
    unknown = [r for r in caplog.records if "'later'" in r.getMessage()]
    assert len(unknown) == 1 and "billing.stripe.orgs" in unknown[0].getMessage()
    await store.insert_requests(
        [
            row(a.id, "cus_A", p0 + 1),
            row(b.id, "cus_B", p0 + 2),
            row(tenant.id, "cus_A", p0 + 3),  # a listed organisation's customer, named by an unlisted one
            row(tenant.id, "cus_T", p0 + 4),
        ]
    )
    assert await m.round(now_ms=p0 + MINUTE + 5_000) == 6  # exactly the listed organisations' events
    listed = {
        identifier(o.id, c, p0, p0 + MINUTE, n)
        for o, c in ((a, "cus_A"), (b, "cus_B"))
        for n in METERS.values()
    }
    assert len(mine(stripe_api, listed)) == 6
    foreign = {
        identifier(tenant.id, c, p0, p0 + MINUTE, n) for c in ("cus_A", "cus_T") for n in METERS.values()
    }
    assert mine(stripe_api, foreign) == [] and {s.org_id for s in await m.ledger.events(p0)} == {a.id, b.id}
    assert len([r for r in caplog.records if "'later'" in r.getMessage()]) == 1  # not again each round

    # An organisation created after the start under a listed name is metered from the next period sent.
    later = await store.create_org("later")
    p1 = p0 + MINUTE
    await store.insert_requests([row(later.id, "cus_L", p1 + 1), row(tenant.id, "cus_T", p1 + 2)])
    assert await m.round(now_ms=p1 + MINUTE + 5_000) == 3
    assert {s.org_id for s in await m.ledger.events(p1)} == {later.id}


async def test_no_organisation_listed_sends_nothing_and_says_so_once(
    store: SQLStore, stripe_api: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """With a key but `billing.stripe.orgs` empty or absent, no meter is built (opt-in per organisation)."""
    caplog.set_level(logging.WARNING, logger="switchyard.stripe_meter")
    full = Settings.model_validate(
        {"billing": {"stripe": {"secret_key": SECRET, "api_base": stripe_api.url}}}
    )
    assert StripeMeter.build(store, WebhookStore(store).lease, full) is None
    [warning] = caplog.records
    assert "billing.stripe.orgs is empty" in warning.getMessage() and SECRET not in caplog.text
    caplog.clear()
    none = Settings.model_validate({"billing": {"stripe": {"api_base": stripe_api.url}}})
    assert StripeMeter.build(store, WebhookStore(store).lease, none) is None and not caplog.records  # no key


def test_billing_stripe_orgs_is_checked_at_load(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('billing:\n  stripe:\n    orgs: [acme, " acme ", "  "]\n')
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={})
    assert "billing.stripe.orgs" in str(e.value) and "1 to 128 characters" in str(e.value)
    cfg.write_text("billing:\n  stripe:\n    orgs: [acme, ' acme ', 0b7f]\n")
    assert load_settings(str(cfg), env={}).billing.stripe.orgs == ["acme", "0b7f"]
