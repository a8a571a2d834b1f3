"""The dashboard's prompts page in a real browser: the list, one prompt's versions and environments, and the
link from a version to the requests it served (the requests page filtered by the prompt properties)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.browser import chromium, expect
from support.gateway import GatewayProcess, serving

ADMIN_KEY = "admin-prompts-dash-0123456789abcdef-01234"
XSS_NAME = '<img src=x id="pwn-name" onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with serving(tmp_path_factory.mktemp("prompts-dash"), upstream.url, admin={"key": ADMIN_KEY}) as g:
        yield g


@pytest.fixture(scope="module")
def page(gw) -> Iterator[Any]:
    with chromium() as b:
        pg = b.new_context().new_page()
        pg.set_default_timeout(10_000)
        yield pg


def test_prompts_page_versions_and_requests(gw, page):
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Dash {{hc:x:string}}"}]}
    r = httpx.post(
        f"{gw.url}/admin/v1/orgs/test/prompts",
        json={"id": "dash-p", "name": XSS_NAME, "body": body},
        headers=admin,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    v1 = r.json()["version_id"]
    r = httpx.post(
        f"{gw.url}/admin/v1/orgs/test/prompts/dash-p/versions",
        headers=admin,
        timeout=10,
        json={"body": {**body, "temperature": 0.4}},
    )
    v2 = r.json()["version_id"]
    httpx.put(
        f"{gw.url}/admin/v1/orgs/test/prompts/dash-p/environments/staging",
        json={"version_id": v2},
        headers=admin,
        timeout=10,
    ).raise_for_status()
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(),
        timeout=30,
        json={"model": "gpt-4o-mini", "prompt_id": "dash-p", "inputs": {"x": "1"}},
    )
    assert r.status_code == 200, r.text
    rid = r.headers["helicone-id"]
    gw.wait_row(rid)

    page.goto(gw.url + "/dashboard/signin")
    page.get_by_label("Gateway key or admin key").fill(gw.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Prompts", exact=True).click()
    expect(page.get_by_role("heading", name="Prompts", exact=True)).to_be_visible()
    expect(page.get_by_text(XSS_NAME)).to_be_visible()  # shown as text, never parsed
    page.get_by_role("link", name="dash-p").click()
    expect(page.get_by_role("heading", name="Prompt dash-p")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^v2 \[staging\]"))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^v1 \[production\]"))).to_be_visible()
    assert '"temperature": 0.4' in page.content()
    assert page.evaluate("window.__pwned") is None and page.locator("#pwn-name").count() == 0
    page.get_by_role("region", name="Version 1").get_by_role(
        "link", name="requests served by this version"
    ).click()
    expect(page).to_have_url(re.compile(r"/dashboard/requests\?"))
    expect(page.locator(f'a[href*="{rid}"]').first).to_be_visible()
    assert v1 in page.url
