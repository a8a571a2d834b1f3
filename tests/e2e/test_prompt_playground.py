"""The dashboard's prompt playground in a real browser: a version (or environment) of a managed prompt run with
typed inputs through the gateway's own chat route as the signed-in viewer — the answer, tokens, cost and a link to
the request row; the row is a normal prompt request (prompt id, version, inputs, the viewer's key); a type error
comes back naming the variable; the admin runs as the organisation shown; a post without the CSRF token is
refused and runs nothing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.browser import chromium, expect
from support.gateway import GatewayProcess, serving

ADMIN_KEY = "admin-playground-0123456789abcdef-0123456"
SHOTS = Path(os.environ.get("SWITCHYARD_SCREENSHOTS", "/tmp/switchyard-screenshots"))
BODY = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You write {{hc:count:number}} lines. Formal: {{hc:formal:boolean}}."},
        {"role": "user", "content": "Tell me about {{hc:topic:string}}"},
    ],
}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with serving(tmp_path_factory.mktemp("playground"), upstream.url, admin={"key": ADMIN_KEY}) as g:
        yield g


@pytest.fixture(scope="module")
def prompt(gw) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    r = httpx.post(
        f"{gw.url}/admin/v1/orgs/test/prompts", json={"id": "play", "body": BODY}, headers=admin, timeout=10
    )
    assert r.status_code == 201, r.text
    v1 = r.json()["version_id"]
    r = httpx.post(
        f"{gw.url}/admin/v1/orgs/test/prompts/play/versions",
        json={"body": {**BODY, "temperature": 0.2}},
        headers=admin,
        timeout=10,
    )
    return {"v1": v1, "v2": r.json()["version_id"]}


@pytest.fixture(scope="module")
def browser(gw) -> Iterator[Any]:
    with chromium() as b:
        yield b


def signed_in(browser: Any, gw: GatewayProcess, key: str) -> Any:
    pg = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    pg.set_default_timeout(15_000)
    pg.goto(gw.url + "/dashboard/signin")
    pg.get_by_label("Gateway key or admin key").fill(key)
    pg.get_by_role("button", name="Sign in").click()
    expect(pg.get_by_role("link", name="Prompts", exact=True)).to_be_visible()
    return pg


def row_of(gw: GatewayProcess, page: Any) -> dict[str, Any]:
    href = page.locator("a.pg-row").get_attribute("href")
    return gw.wait_row(href.rsplit("/", 1)[1])


def test_a_version_runs_through_the_gateway_as_the_viewers_key(gw, upstream, prompt, browser) -> None:
    page = signed_in(browser, gw, gw.key)
    page.goto(gw.url + "/dashboard/prompts/play")
    play = page.get_by_role("region", name="Playground")
    expect(play.get_by_label("Run")).to_have_value("env:production")
    play.get_by_label("topic").fill("<b>trains</b>")
    play.get_by_label("count").fill("3")
    play.get_by_label("formal").select_option("false")
    play.get_by_role("button", name="Run", exact=True).click()

    result = page.locator(".pg-result")
    expect(result.get_by_role("heading", name="Answer")).to_be_visible()
    expect(result.locator(".pg-tokens")).to_contain_text(re.compile(r"\d+ in · \d+ out · \d+ total"))
    expect(result.locator(".pg-cost")).to_contain_text("$")
    sent = upstream.last("/v1/chat/completions").body
    assert sent["messages"][0]["content"] == "You write 3 lines. Formal: false."
    assert sent["messages"][1]["content"] == "Tell me about <b>trains</b>"
    assert sent["stream"] is False or "stream" not in sent
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "prompt-playground.png"), full_page=True)

    row = row_of(gw, page)
    assert row["prompt_id"] == "play"
    assert row["request_properties"]["helicone-prompt-version-id"] == prompt["v1"]
    assert row["request_properties"]["playground"] == "dashboard"
    assert row["key_id"] and row["key_id"] != "dashboard-admin"
    assert row["costUSD"] and row["costUSD"] > 0
    assert f"{row['total_tokens']} total" in result.locator(".pg-tokens").inner_text()
    # The inputs stay in the form; the link opens the request row.
    expect(play.get_by_label("topic")).to_have_value("<b>trains</b>")
    page.locator("a.pg-row").click()
    expect(page).to_have_url(re.compile(r"/dashboard/requests/"))
    expect(page.get_by_text("play", exact=True).first).to_be_visible()


def test_a_chosen_version_a_type_error_and_the_admin(gw, prompt, browser) -> None:
    page = signed_in(browser, gw, gw.key)
    page.goto(gw.url + "/dashboard/prompts/play")
    play = page.get_by_role("region", name="Playground")
    play.get_by_label("Run").select_option(f"version:{prompt['v2']}")
    play.get_by_role("button", name="Show its inputs").click()
    expect(play.locator("input[name=target]")).to_have_value(f"version:{prompt['v2']}")
    play.get_by_label("topic").fill("ships")
    play.get_by_label("count").fill("many")
    play.get_by_role("button", name="Run", exact=True).click()
    alert = page.locator(".pg-result").get_by_role("alert")
    expect(alert).to_contain_text("400")
    expect(alert).to_contain_text("count")  # the gateway's own message names the variable and the value
    expect(alert).to_contain_text("many")
    play.get_by_label("count").fill("2")
    play.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".pg-result").get_by_role("heading", name="Answer")).to_be_visible()
    row = row_of(gw, page)
    assert row["request_properties"]["helicone-prompt-version-id"] == prompt["v2"]

    admin = signed_in(browser, gw, ADMIN_KEY)
    admin.get_by_label("Organisation").select_option(label="test")
    admin.get_by_role("button", name="Switch").click()
    admin.goto(gw.url + "/dashboard/prompts/play")
    play = admin.get_by_role("region", name="Playground")
    expect(play).to_contain_text("organisation test (admin)")
    play.get_by_label("topic").fill("planes")
    play.get_by_label("count").fill("1")
    play.get_by_role("button", name="Run", exact=True).click()
    expect(admin.locator(".pg-result").get_by_role("heading", name="Answer")).to_be_visible()
    row = row_of(gw, admin)
    assert row["key_id"].startswith("dashboard-admin-") and row["prompt_id"] == "play"


def test_a_post_without_the_csrf_token_runs_nothing(gw, upstream, prompt, browser) -> None:
    page = signed_in(browser, gw, gw.key)
    before = len(upstream.seen)
    r = page.request.post(
        gw.url + "/dashboard/prompts/play/run",
        form={"target": "env:production", "input.topic": "x", "input.count": "1", "input.formal": "true"},
    )
    assert r.status == 403
    r = page.request.post(
        gw.url + "/dashboard/prompts/play/run",
        form={"csrf": "forged", "target": "env:production", "input.topic": "x", "input.count": "1"},
    )
    assert r.status == 403
    assert len(upstream.seen) == before
