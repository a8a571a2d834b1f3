"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real gateway process.

Traffic goes through the mock upstream; every page is screenshotted into tests/artifacts/dashboard/ (printed at the
end of the run). Under CI=true a missing chromium fails the suite instead of skipping it.
"""

from __future__ import annotations

import concurrent.futures
import http.server
import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.browser import ARGS, chromium, expect
from support.gateway import GatewayProcess, default_config, free_port

CHROMIUM_ARGS = [
    *ARGS,
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_KEY = "sy-admin-" + secrets.token_hex(16)
ARTIFACTS = (
    Path(os.environ.get("SWITCHYARD_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
    / "dashboard"
)

# Hostile data: each payload would set window.__pwned (or add an element) if it were ever parsed as markup.
XSS_PROPERTY = '<img src=x id="pwn-prop" onerror="window.__pwned=1">'
XSS_USER = '<script id="pwn-user">window.__pwned=2</script>'
XSS_PROMPT = '</pre><script id="pwn-prompt">window.__pwned=3</script><b id="pwn-bold">bold?</b>'
XSS_MODEL = '<svg id="pwn-model" onload="window.__pwned=4">/my-vllm'
XSS_SESSION = '"><img src=x id="pwn-session" onerror="window.__pwned=5">'


# -- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")  # module-scoped, as support/browser.py says
def browser() -> Iterator[Any]:
    with chromium(CHROMIUM_ARGS) as b:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield b
    print(f"\ndashboard screenshots: {ARTIFACTS}")


def _post(
    gw: GatewayProcess,
    key: str,
    model: str = "gpt-4o-mini",
    content: str = "hi",
    headers: dict | None = None,
    expect_status: int = 200,
    **body: Any,
) -> str:
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={**gw.headers(key), **(headers or {})},
        timeout=30,
        json={
            "model": model,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}],
            **body,
        },
    )
    assert r.status_code == expect_status, r.text
    return r.headers["helicone-id"]


class Seeded:
    def __init__(self, gw: GatewayProcess, acme: str, rival: str) -> None:
        self.gw, self.acme, self.rival = gw, acme, rival
        self.ids: dict[str, str] = {}
        self.session = f"trip-{secrets.token_hex(4)}"
        self.rival_session = f"rival-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def seeded(upstream, tmp_path_factory) -> Iterator[Seeded]:
    cfg = default_config(upstream.url, free_port(), admin={"key": ADMIN_KEY})
    # a provider nobody listens on: a fallback chain through it shows two attempts
    cfg["providers"]["dead-vllm"] = {
        "format": "openai",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "api_key": "x",
    }
    gw = GatewayProcess(tmp_path_factory.mktemp("dashboard"), cfg)
    gw.home.mkdir(parents=True, exist_ok=True)
    gw.config_path.write_text(yaml.safe_dump(cfg))
    gw.start()  # organisations and keys through the admin API: no CLI process to start
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    keys = {}
    for org in ("acme", "rival"):
        httpx.post(
            f"{gw.url}/admin/v1/orgs", json={"name": org}, headers=admin, timeout=10
        ).raise_for_status()
        r = httpx.post(
            f"{gw.url}/admin/v1/orgs/{org}/keys", json={"name": f"{org}-key"}, headers=admin, timeout=10
        )
        r.raise_for_status()
        keys[org] = r.json()["key"]
    per_user = {"metric": "requests", "limit": 1000, "window_seconds": 86400, "per": "user"}
    r = httpx.patch(f"{gw.url}/admin/v1/orgs/acme", json={"limits": [per_user]}, headers=admin, timeout=10)
    r.raise_for_status()
    s = Seeded(gw, keys["acme"], keys["rival"])
    acme = s.acme
    ids = s.ids
    sess = {
        "Helicone-Session-Id": s.session,
        "Helicone-Session-Name": "Trip planner",
        "Helicone-User-Id": "alice",
    }
    ids["plan"] = _post(
        gw,
        acme,
        content="Plan a trip to Lisbon",
        headers={**sess, "Helicone-Session-Path": "/plan", "Helicone-Property-Env": "prod"},
    )
    ids["search"] = _post(
        gw, acme, content="Search flights", headers={**sess, "Helicone-Session-Path": "/plan/search"}
    )
    ids["fetch"] = _post(
        gw, acme, content="Fetch prices", headers={**sess, "Helicone-Session-Path": "/plan/search/fetch"}
    )
    ids["answer"] = _post(
        gw, acme, content="Write the answer", headers={**sess, "Helicone-Session-Path": "/answer"}
    )
    ids["fallback"] = _post(
        gw,
        acme,
        model="llama3/dead-vllm,llama3/my-vllm",
        content="Fallback please",
        headers={"Helicone-User-Id": "bob", "Helicone-Property-Env": "dev"},
    )
    ids["error"] = _post(
        gw, acme, content="[[500]] fail", headers={"Helicone-User-Id": "bob"}, expect_status=500
    )
    ids["tools"] = _post(gw, acme, content="[[tools]] weather?", headers={"Helicone-Property-Env": "prod"})
    ids["hostile"] = _post(
        gw,
        acme,
        model=XSS_MODEL,
        content=XSS_PROMPT,
        headers={
            "Helicone-User-Id": XSS_USER,
            "Helicone-Property-Evil": XSS_PROPERTY,
            "Helicone-Session-Id": XSS_SESSION,
        },
    )
    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # enough rows for a second page of the table
        bulk = list(
            pool.map(
                lambda i: _post(gw, acme, content=f"bulk {i}", headers={"Helicone-Property-Batch": "bulk"}),
                range(53),
            )
        )
    ids["rival"] = _post(
        gw,
        s.rival,
        content="rival secret plan",
        headers={
            "Helicone-User-Id": "rival-user",
            "Helicone-Property-Team": "rival-only",
            "Helicone-Session-Id": s.rival_session,
        },
    )
    for rid in [*ids.values(), *bulk]:
        gw.wait_row(rid, key=s.rival if rid == ids["rival"] else acme)
    s.bulk = bulk  # type: ignore[attr-defined]
    yield s
    gw.stop()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.on("dialog", lambda d: d.accept())  # the revoke confirmation
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, gw: GatewayProcess, key: str) -> None:
    page.goto(gw.url + "/")
    expect(page).to_have_url(re.compile(r"/dashboard/signin$"))
    page.get_by_label("Gateway key or admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()


def card(page: Any, name: str) -> str:
    return page.locator(f'[data-total="{name}"] .big').inner_text().strip()


def assert_no_secret(page: Any, *secrets_: str) -> None:
    html = page.content()
    for s in secrets_:
        assert s not in html and s not in page.url


# -- tests -------------------------------------------------------------------------------------------------------


def test_sign_in_and_overview_totals_equal_the_query_api(page, seeded):
    from switchyard.dashboard.render import num, usd

    gw = seeded.gw
    page.goto(gw.url + "/dashboard/signin")
    shot(page, "01-signin")
    sign_in(page, gw, seeded.acme)
    cookie = next(c for c in page.context.cookies() if c["name"] == "sy_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"
    assert seeded.acme not in cookie["value"] and seeded.acme[6:] not in cookie["value"]
    rows = gw.query({"filter": "all", "limit": 1000, "includeBodies": False}, key=seeded.acme)
    assert len(rows) == len(seeded.ids) - 1 + len(seeded.bulk)  # everything but the rival's request
    expect(page.locator('[data-total="requests"] .big')).to_have_text(num(len(rows)))
    assert card(page, "errors") == num(sum(1 for r in rows if r["response_status"] >= 400))
    assert card(page, "cost") == usd(sum(r["costUSD"] or 0 for r in rows))
    tokens = sum((r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0) for r in rows)
    assert card(page, "tokens") == num(tokens)
    expect(page.locator(".chart canvas").first).to_be_visible()  # uPlot drew from the vendored script
    expect(page.get_by_role("cell", name="alice", exact=True).first).to_be_visible()
    assert_no_secret(page, seeded.acme, ADMIN_KEY)
    shot(page, "02-overview")
    page.get_by_label("Time range").select_option("1h")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"range=1h"))
    expect(page.locator('[data-total="requests"] .big')).to_have_text(num(len(rows)))


def test_requests_filter_by_property_paginate_and_export(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.acme)
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_label("Property").fill("batch=bulk")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("tr[data-request-id]")
    expect(rows).to_have_count(50)
    shot(page, "03-requests-filtered")
    page.get_by_role("link", name="Load older requests").click()  # htmx appends the next page
    expect(rows).to_have_count(len(seeded.bulk))
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.requestId)")
    assert sorted(shown) == sorted(seeded.bulk)  # every row once, none from outside the filter
    expect(page.get_by_role("link", name="Load older requests")).to_have_count(0)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Export CSV").click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert len(lines) == 1 + len(seeded.bulk) and lines[0].startswith("id,created_at")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Export JSONL").click()
    assert len(Path(dl.value.path()).read_text().splitlines()) == len(seeded.bulk)
    page.get_by_label("Property").fill("env=dev")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-request-id="{seeded.ids["fallback"]}"]')).to_be_visible()


def test_request_detail_attempts_and_feedback_reach_the_api(page, seeded):
    gw = seeded.gw
    rid = seeded.ids["fallback"]
    sign_in(page, gw, seeded.acme)
    page.goto(f"{gw.url}/dashboard/requests?property=env%3Ddev")
    page.locator(f'tr[data-request-id="{rid}"] a').first.click()
    expect(page.get_by_role("heading", name=re.compile("Request"))).to_contain_text(rid)
    attempts = page.locator("ol.attempts > li")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("dead-vllm")
    expect(attempts.nth(0)).to_have_class(re.compile(r"\bbad\b"))
    expect(attempts.nth(1)).to_contain_text("my-vllm")
    expect(page.locator(".turn.role-user")).to_contain_text("Fallback please")
    expect(page.locator(".turn.role-system")).to_contain_text("Be brief.")
    curl = page.locator("#curl-text").inner_text()
    assert (
        "$SWITCHYARD_KEY" in curl and seeded.acme not in curl and "helicone-property-env: dev" in curl.lower()
    )
    page.get_by_role("button", name="Good", exact=True).click()
    expect(page.locator("#feedback")).to_contain_text("Rated Good")
    expect(page.get_by_role("button", name="Good", exact=True)).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Score name").fill("accuracy")
    page.get_by_label("Score value").fill("0.75")
    page.get_by_role("button", name="Add score").click()
    expect(page.locator("#feedback")).to_contain_text("accuracy")
    shot(page, "04-request-detail")
    page.locator("summary", has_text="Show the raw request").click()
    expect(page.locator("details[open] pre.json")).to_contain_text('"model"')
    # the API sees what the page did
    r = httpx.get(f"{gw.url}/v1/request/{rid}", headers=gw.headers(seeded.acme), timeout=10).json()["data"]
    assert r["feedback_rating"] is True  # Helicone's field
    page.get_by_role("button", name="Bad", exact=True).click()
    expect(page.locator("#feedback")).to_contain_text("Rated Bad")
    r = httpx.get(f"{gw.url}/v1/request/{rid}", headers=gw.headers(seeded.acme), timeout=10).json()["data"]
    assert r["feedback_rating"] is False
    # and the table's feedback filter finds it
    page.goto(f"{gw.url}/dashboard/requests?feedback=bad")
    expect(page.locator("tr[data-request-id]")).to_have_count(1)
    # tool calls are drawn as such
    page.goto(f"{gw.url}/dashboard/requests/{seeded.ids['tools']}")
    expect(page.locator(".tool-head").first).to_contain_text("Tool call")
    shot(page, "05-request-tool-call")


def test_session_tree(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.acme)
    page.get_by_role("link", name="Sessions", exact=True).click()
    page.get_by_role("link", name="Trip planner").click()
    expect(page.get_by_role("heading", name=re.compile("Trip planner"))).to_be_visible()
    tree = page.get_by_role("table", name=re.compile("Session tree"))
    for path in ("/plan", "/plan/search", "/plan/search/fetch", "/answer"):
        expect(tree.get_by_role("link", name=f"{path} · ")).to_be_visible()
    expect(tree.locator(".wf-node")).to_contain_text(["plan", "search"])
    expect(tree.locator("svg.bar")).to_have_count(4)
    shot(page, "06-session")
    tree.get_by_role("link", name="/plan/search/fetch · ").click()
    expect(page.get_by_role("heading", name=re.compile("Request"))).to_contain_text(seeded.ids["fetch"])


def test_users_properties_and_health_pages(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.acme)
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("link", name="alice", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="bob", exact=True)).to_be_visible()
    alice = page.get_by_role("row").filter(has=page.get_by_role("link", name="alice", exact=True))
    meter = alice.get_by_role("meter", name="1000 requests / 1 d (organisation)")
    expect(meter).to_have_attribute("value", "0.004")  # 4 of alice's 1,000 requests a day
    expect(alice).to_contain_text("0.4% of 1000 requests / 1 d (organisation)")
    shot(page, "07-users")
    page.get_by_role("link", name="Properties", exact=True).click()
    page.get_by_role("link", name="env", exact=True).click()
    expect(page.get_by_role("link", name="prod", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="dev", exact=True)).to_be_visible()
    shot(page, "08-properties")
    page.get_by_role("link", name="Health", exact=True).click()
    expect(page.locator('[data-health="store"]')).to_contain_text("up")
    expect(page.locator('tr[data-provider="openai"]')).to_be_visible()
    shot(page, "09-health")
    page.get_by_role("link", name="Keys and money", exact=True).click()
    expect(page.get_by_text("read only")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Revoke"))).to_have_count(0)
    shot(page, "10-keys-readonly")
    assert_no_secret(page, seeded.acme)


def test_create_and_revoke_a_key_through_the_page(page, browser, seeded):
    gw = seeded.gw
    sign_in(page, gw, ADMIN_KEY)
    page.get_by_label("Organisation").select_option(label="acme")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator(".sub").first).to_contain_text("acme")
    page.get_by_role("link", name="Keys and money", exact=True).click()
    page.locator("summary", has_text="Create a gateway key").click()
    page.get_by_label("Key name").fill("made-in-browser")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_role("textbox", name="New gateway key").input_value()
    assert new_key.startswith("sk-sy-")
    assert new_key not in page.url
    shot(page, "11-keys-created")
    assert _post(gw, new_key, content="from the new key")
    other = browser.new_context()  # someone signed in with the new key: revoking it ends their session
    holder = other.new_page()
    sign_in(holder, gw, new_key)
    page.reload()  # shown once: a reload (a GET) never shows it again
    assert new_key not in page.content()
    page.get_by_role("button", name="Revoke key made-in-browser").click()
    expect(page.locator(".notice.good")).to_contain_text("Revoked key made-in-browser")
    shot(page, "12-keys-revoked")
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(new_key),
        timeout=10,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "still there?"}]},
    )
    assert r.status_code == 401
    assert_no_secret(page, ADMIN_KEY, new_key)
    holder.goto(gw.url + "/dashboard/requests")
    expect(holder).to_have_url(re.compile(r"/dashboard/signin$"))
    other.close()


def test_another_organisation_sees_none_of_it(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.rival)
    expect(page.locator('[data-total="requests"] .big')).to_have_text("1")
    acme_markers = ["alice", "bob", "Trip planner", seeded.session, seeded.ids["plan"], "Lisbon", "bulk"]
    for path in (
        "/dashboard",
        "/dashboard/requests?range=30d",
        "/dashboard/sessions?range=30d",
        "/dashboard/users?range=30d",
        "/dashboard/properties?range=30d",
        "/dashboard/keys",
        "/dashboard/requests?range=30d&property=env%3Dprod",
    ):
        page.goto(gw.url + path)
        html = page.content()
        for m in acme_markers:
            assert m not in html, (path, m)
    page.goto(f"{gw.url}/dashboard/requests?range=30d")
    expect(page.locator("tr[data-request-id]")).to_have_count(1)
    shot(page, "13-other-org-requests")
    for path in (f"/dashboard/requests/{seeded.ids['plan']}", f"/dashboard/sessions/{seeded.session}"):
        resp = page.goto(gw.url + path)
        assert resp.status == 404, path
        assert "Lisbon" not in page.content()
    resp = page.request.post(
        f"{gw.url}/dashboard/requests/{seeded.ids['plan']}/feedback",
        form={"rating": "bad", "csrf": _csrf(page, gw)},
    )
    assert resp.status == 404
    with page.expect_download() as dl:
        page.goto(f"{gw.url}/dashboard/requests?range=30d")
        page.get_by_role("link", name="Export JSONL").click()
    assert len(Path(dl.value.path()).read_text().splitlines()) == 1
    # and acme's key does not see the rival's request either
    page.context.clear_cookies()
    sign_in(page, gw, seeded.acme)
    resp = page.goto(f"{gw.url}/dashboard/requests/{seeded.ids['rival']}")
    assert resp.status == 404
    page.goto(f"{gw.url}/dashboard/properties?range=30d")
    assert "rival-only" not in page.content()


def _csrf(page: Any, gw: GatewayProcess) -> str:
    page.goto(gw.url + "/dashboard/health")
    return page.locator('input[name="csrf"]').first.input_value()


def test_hostile_data_is_shown_as_text(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.acme)
    hostile = seeded.ids["hostile"]
    visits = [
        ("/dashboard?range=24h", [XSS_USER]),
        ("/dashboard/requests?" + str(httpx.QueryParams({"user": XSS_USER})), [XSS_USER]),
        ("/dashboard/requests?" + str(httpx.QueryParams({"property": f"evil={XSS_PROPERTY}"})), [XSS_USER]),
        (f"/dashboard/requests/{hostile}", [XSS_PROMPT, XSS_PROPERTY, XSS_USER, XSS_MODEL.split("/")[0]]),
        ("/dashboard/users", [XSS_USER]),
        ("/dashboard/properties?key=evil", [XSS_PROPERTY]),
        ("/dashboard/sessions", [XSS_SESSION]),
    ]
    for path, texts in visits:
        page.goto(gw.url + path)
        for t in texts:
            expect(page.get_by_text(t, exact=False).first).to_be_attached()
        assert page.evaluate("window.__pwned") is None, path
        for el in ("pwn-prop", "pwn-user", "pwn-prompt", "pwn-bold", "pwn-model", "pwn-session"):
            assert page.locator(f"#{el}").count() == 0, (path, el)
    page.goto(f"{gw.url}/dashboard/requests/{hostile}")
    shot(page, "14-hostile-request")
    page.goto(gw.url + "/dashboard/requests?" + str(httpx.QueryParams({"search": "pwn-prompt"})))
    page.locator(f'tr[data-request-id="{hostile}"] a').nth(1).click()  # the user link: a filter by that user
    expect(page.locator("tr[data-request-id]")).to_have_count(1)
    assert page.evaluate("window.__pwned") is None


class _Attacker(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


def test_forged_cross_site_post_is_refused_by_the_csrf_token(page, seeded):
    gw = seeded.gw
    victim = httpx.post(
        f"{gw.url}/admin/v1/orgs/acme/keys",
        json={"name": "victim"},
        timeout=10,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ).json()
    sign_in(page, gw, ADMIN_KEY)
    # the admin lands on the empty default organisation: the newcomer's empty state, with this gateway's URL
    expect(page.get_by_role("heading", name="No requests here yet")).to_be_visible()
    expect(page.locator(".empty pre")).to_contain_text(f"curl {gw.url}/v1/chat/completions")
    shot(page, "00-empty-state")
    page.get_by_label("Organisation").select_option(label="acme")  # where the victim key lives: without the
    page.get_by_role("button", name="Switch").click()  # token check, the forged post would revoke it
    expect(page.locator(".sub").first).to_contain_text("acme")
    # Another origin on the same host is the same *site*: the browser sends the SameSite=Lax cookie with the
    # forged post, so only the token can refuse it.
    for token_field in ("", '<input type="hidden" name="csrf" value="forged-token">'):
        _Attacker.html = (
            f'<form id="f" method="post" action="{gw.url}/dashboard/keys/{victim["id"]}/revoke">'
            f'{token_field}</form><script>document.getElementById("f").submit()</script>'
        ).encode()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with page.expect_navigation(url=re.compile(r"/revoke$")):
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            expect(page.get_by_role("heading", name="Refused")).to_be_visible()  # signed in, yet refused
        finally:
            server.shutdown()
            server.server_close()
    shot(page, "15-csrf-refused")
    assert _post(gw, victim["key"], content="still works")
    # a request without the token is refused outside the browser too, session cookie or not
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    r = httpx.post(
        f"{gw.url}/dashboard/keys/{victim['id']}/revoke",
        cookies=cookies,
        timeout=10,
        headers={"origin": gw.url},
    )
    assert r.status_code == 403
    r = httpx.post(
        f"{gw.url}/dashboard/keys", cookies=cookies, data={"csrf": "x" * 43, "name": "sneaky"}, timeout=10
    )
    assert r.status_code == 403


def test_sign_out(page, seeded):
    gw = seeded.gw
    sign_in(page, gw, seeded.acme)
    old = {c["name"]: c["value"] for c in page.context.cookies()}
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/dashboard/signin$"))
    page.goto(gw.url + "/dashboard/requests")
    expect(page).to_have_url(re.compile(r"/dashboard/signin$"))
    assert old["sy_session"] != {c["name"]: c["value"] for c in page.context.cookies()}["sy_session"]
    page.get_by_label("Gateway key or admin key").fill("sk-sy-not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a key this gateway knows")
    assert "sk-sy-not-a-real-key" not in page.content()
    shot(page, "16-signin-refused")


UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
  .filter(el => {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || (el.textContent || '').trim();
    return !named;
  }).map(el => el.outerHTML.slice(0, 120))"""


def test_every_control_has_a_name_keyboard_and_dark_mode(browser, seeded):
    gw = seeded.gw
    context = browser.new_context(viewport={"width": 1360, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(gw.url + "/dashboard/signin")
        page.keyboard.type(ADMIN_KEY)  # the key field has the focus
        page.keyboard.press("Enter")  # signing in needs no mouse
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        page.keyboard.press("Tab")  # the skip link comes first
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.get_by_label("Organisation").select_option(label="acme")
        page.get_by_role("button", name="Switch").click()
        expect(page.locator(".sub").first).to_contain_text("acme")
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(15, 18, 23)", bg  # the dark palette (prefers-color-scheme: dark)
        shot(page, "17-overview-dark")
        for path in (
            "/dashboard",
            "/dashboard/requests",
            f"/dashboard/requests/{seeded.ids['tools']}",
            "/dashboard/sessions",
            f"/dashboard/sessions/{seeded.session}",
            "/dashboard/users",
            "/dashboard/properties",
            "/dashboard/keys",
            "/dashboard/health",
        ):
            page.goto(gw.url + path)
            assert page.evaluate(UNNAMED_CONTROLS) == [], path
        page.goto(f"{gw.url}/dashboard/requests/{seeded.ids['tools']}")
        shot(page, "18-request-dark")
    finally:
        context.close()


def test_provider_keys_and_credits_through_the_page(page, seeded):
    gw = seeded.gw
    secret, rotated = "sk-byok-" + secrets.token_hex(12), "sk-byok-" + secrets.token_hex(12)
    sign_in(page, gw, ADMIN_KEY)
    page.get_by_label("Organisation").select_option(label="rival")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("link", name="Keys and money", exact=True).click()
    page.locator("summary", has_text="Add a provider key").click()
    page.get_by_label("Provider", exact=True).select_option("openai")
    page.get_by_label("Provider API key").fill(secret)
    page.get_by_label("Id (optional").fill("team-main")
    page.get_by_role("button", name="Add provider key").click()
    row = page.locator('tr[data-provider-key="team-main"]')
    expect(row).to_contain_text("…" + secret[-4:])
    assert secret not in page.content()  # written, never shown back
    page.get_by_text("Rotate provider key team-main").click()
    page.get_by_label("New key for team-main").fill(rotated)
    page.get_by_role("button", name="Rotate team-main").click()
    expect(page.locator(".notice.good")).to_contain_text("Rotated openai key team-main")
    expect(row).to_contain_text("…" + rotated[-4:])
    assert rotated not in page.content() and secret not in page.content()
    page.get_by_label("Amount (USD)").fill("12.5")
    page.get_by_label("Note").fill("<b>welcome</b>")
    page.get_by_role("button", name="Add credits").click()
    expect(page.locator('[data-credit="balance"]')).to_contain_text("$12.50")
    expect(page.get_by_role("cell", name="<b>welcome</b>")).to_be_visible()
    shot(page, "19-keys-provider-and-credits")
    page.get_by_role("button", name="Remove provider key team-main").click()
    expect(page.locator('tr[data-provider-key="team-main"]')).to_have_count(0)
    page.get_by_label("Amount (USD)").fill("-3")
    page.get_by_role("button", name="Add credits").click()
    expect(page.get_by_role("alert")).to_contain_text("amount_usd")
