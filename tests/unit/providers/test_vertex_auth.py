"""Vertex AI OAuth: token minting through google-auth (refresh stubbed), caching until 5 minutes before
expiry, one shared refresh for concurrent requests, the access_token shortcut, and no secret in errors."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions
from google.oauth2 import service_account

from switchyard.providers.base import Target, UpstreamError, UpstreamRequest
from switchyard.providers.vertex import VertexProvider
from switchyard.providers.vertex.auth import SCOPES, default_transport

TEMPLATE = "https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}"
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def sa_info() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "sa-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "gateway@sa-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class FakeRefresh:
    """Replaces `service_account.Credentials.refresh`: counts calls, sets a token valid for `lifetime`."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0, delay: float = 0.0) -> None:
        self.clock, self.lifetime, self.delay = clock, lifetime, delay
        self.calls = 0
        self.threads: set[str] = set()
        self.scopes: list = []

    def __call__(self, creds, request) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.scopes.append(creds.scopes)
        if self.delay:
            time.sleep(self.delay)
        creds.token = f"ya29.token-{self.calls}"
        expiry = datetime.datetime.fromtimestamp(self.clock.now + self.lifetime, datetime.UTC)
        creds.expiry = expiry.replace(tzinfo=None)  # google-auth keeps naive UTC


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> FakeRefresh:
    stub = FakeRefresh(clock)
    monkeypatch.setattr(service_account.Credentials, "refresh", lambda self, request: stub(self, request))
    return stub


def make(clock: Clock) -> VertexProvider:
    return VertexProvider(clock=lambda: 0, token_clock=clock, transport_factory=lambda: "no-network")


def target(api_key: str | None = None, **config) -> Target:
    cfg = {"project": "my-proj", "region": "us-central1", **config}
    return Target("vertex", "gemini-2.5-flash", "vertex", TEMPLATE, api_key, "google-oauth", cfg)


def request(
    url: str = "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/x",
) -> UpstreamRequest:
    return UpstreamRequest("POST", url, {"content-type": "application/json"}, b"{}", False)


# --- credentials sources ---------------------------------------------------------------------------


async def test_access_token_shortcut_needs_no_google_auth(fake: FakeRefresh, clock: Clock):
    signed = await make(clock).sign(request(), target(access_token="ya29.static"))
    assert signed.headers == {"content-type": "application/json", "authorization": "Bearer ya29.static"}
    assert fake.calls == 0


async def test_bearer_auth_uses_the_key_as_a_token(fake: FakeRefresh, clock: Clock):
    t = target("ya29.from-key")
    t.auth = "bearer"
    assert (await make(clock).sign(request(), t)).headers["authorization"] == "Bearer ya29.from-key"
    assert fake.calls == 0


async def test_inline_service_account_json(fake: FakeRefresh, clock: Clock, sa_info: dict):
    p = make(clock)
    signed = await p.sign(request(), target(orjson.dumps(sa_info).decode()))
    assert signed.headers["authorization"] == "Bearer ya29.token-1"
    assert fake.calls == 1
    assert fake.scopes == [list(SCOPES)]
    assert fake.threads and "MainThread" not in fake.threads  # refreshed off the event loop


async def test_service_account_file_in_api_key_or_credentials_file(
    fake: FakeRefresh, clock: Clock, sa_info: dict, tmp_path: Path
):
    path = tmp_path / "sa.json"
    path.write_bytes(orjson.dumps(sa_info))
    p = make(clock)
    assert (await p.sign(request(), target(str(path)))).headers["authorization"] == "Bearer ya29.token-1"
    signed = await p.sign(request(), target(None, credentials_file=str(path)))
    assert signed.headers["authorization"] == "Bearer ya29.token-1"  # same file, same cached token
    assert fake.calls == 1


async def test_project_placeholder_is_filled_from_the_credentials_file(
    fake: FakeRefresh, clock: Clock, sa_info: dict, tmp_path: Path
):
    path = tmp_path / "sa.json"
    path.write_bytes(orjson.dumps(sa_info))
    p = make(clock)
    t = target(str(path), project=None)
    req = p.build_request({"messages": [{"role": "user", "content": "hi"}]}, t)
    assert "{project}" in req.url
    signed = await p.sign(req, t)
    assert "/projects/sa-project/locations/us-central1/" in signed.url


async def test_unknown_project_is_an_error_naming_the_setting(clock: Clock):
    t = target(None, project=None, access_token="ya29.x")
    with pytest.raises(UpstreamError) as e:
        await make(clock).sign(request("https://h/v1/projects/{project}/x"), t)
    assert "VERTEX_PROJECT" in e.value.message


async def test_no_credentials(clock: Clock):
    with pytest.raises(UpstreamError) as e:
        await make(clock).sign(request(), target(None))
    assert e.value.kind == "auth" and "GOOGLE_APPLICATION_CREDENTIALS" in e.value.message


async def test_auth_none_signs_nothing(clock: Clock):
    t = target(None)
    t.auth = "none"
    assert (await make(clock).sign(request(), t)).headers == {"content-type": "application/json"}


# --- caching -------------------------------------------------------------------------------------


async def test_token_is_cached_until_five_minutes_before_expiry(
    fake: FakeRefresh, clock: Clock, sa_info: dict
):
    p = make(clock)
    t = target(orjson.dumps(sa_info).decode())
    for _ in range(3):
        assert (await p.sign(request(), t)).headers["authorization"] == "Bearer ya29.token-1"
    clock.now = T0 + 3600 - 301  # 5 min + 1 s before expiry: still good
    assert (await p.sign(request(), t)).headers["authorization"] == "Bearer ya29.token-1"
    clock.now = T0 + 3600 - 299  # inside the margin: refreshed
    assert (await p.sign(request(), t)).headers["authorization"] == "Bearer ya29.token-2"
    assert fake.calls == 2
    entry = p.tokens.entry(t)
    assert entry is not None and entry.refreshes == 2
    assert entry.expires_at == pytest.approx(clock.now + 3600)


async def test_concurrent_requests_share_one_refresh(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, sa_info: dict
):
    stub = FakeRefresh(clock, delay=0.05)
    monkeypatch.setattr(service_account.Credentials, "refresh", lambda self, request: stub(self, request))
    p = make(clock)
    t = target(orjson.dumps(sa_info).decode())
    signed = await asyncio.gather(*(p.sign(request(), t) for _ in range(20)))
    assert {s.headers["authorization"] for s in signed} == {"Bearer ya29.token-1"}
    assert stub.calls == 1


async def test_event_loop_keeps_running_during_a_refresh(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, sa_info: dict
):
    stub = FakeRefresh(clock, delay=0.2)
    monkeypatch.setattr(service_account.Credentials, "refresh", lambda self, request: stub(self, request))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await make(clock).sign(request(), target(orjson.dumps(sa_info).decode()))
    finally:
        task.cancel()
    assert ticks >= 5


# --- failures ------------------------------------------------------------------------------------


async def test_refresh_rejected_is_auth_without_secrets(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, sa_info: dict
):
    def refuse(self, request):
        raise exceptions.RefreshError("invalid_grant: Invalid JWT Signature.", {"error": "invalid_grant"})

    monkeypatch.setattr(service_account.Credentials, "refresh", refuse)
    p = make(clock)
    t = target(orjson.dumps(sa_info).decode())
    with pytest.raises(UpstreamError) as e:
        await p.sign(request(), t)
    assert e.value.status == 401 and e.value.kind == "auth"
    assert "invalid_grant" in e.value.message
    assert "PRIVATE KEY" not in e.value.message and "gateway@" not in e.value.message
    assert e.value.__cause__ is None and e.value.__suppress_context__


async def test_failed_refresh_is_not_cached(monkeypatch: pytest.MonkeyPatch, clock: Clock, sa_info: dict):
    stub = FakeRefresh(clock)
    state = {"fail": True}

    def flaky(self, request):
        if state["fail"]:
            raise exceptions.TransportError("connection reset")
        stub(self, request)

    monkeypatch.setattr(service_account.Credentials, "refresh", flaky)
    p = make(clock)
    t = target(orjson.dumps(sa_info).decode())
    with pytest.raises(UpstreamError) as e:
        await p.sign(request(), t)
    assert e.value.kind == "connection"
    state["fail"] = False
    assert (await p.sign(request(), t)).headers["authorization"] == "Bearer ya29.token-1"


@pytest.mark.parametrize(
    ("key", "needle"),
    [
        ('{"type": "service_account", "private_key": "SECRET-PEM"}', "incomplete or malformed"),
        ('{"type": "external_account", "secret": "SECRET-PEM"}', "unsupported Google credentials type"),
        ('{"type": "service_account", SECRET-PEM', "not valid JSON"),
        ("/nonexistent/SECRET-PEM.json", "cannot read"),
    ],
)
async def test_bad_credentials_never_echo_them(clock: Clock, key: str, needle: str):
    with pytest.raises(UpstreamError) as e:
        await make(clock).sign(request(), target(key))
    assert e.value.kind == "auth" and needle in e.value.message
    assert "SECRET" not in e.value.message and "SECRET" not in repr(e.value)


def test_default_transport_is_a_google_auth_request():
    from google.auth import transport

    assert isinstance(default_transport(), transport.Request)


def test_default_transport_falls_back_to_urllib3_without_requests(monkeypatch: pytest.MonkeyPatch):
    import sys

    from google.auth.transport import urllib3 as gurllib3

    monkeypatch.setitem(sys.modules, "google.auth.transport.requests", None)  # import fails
    assert isinstance(default_transport(), gurllib3.Request)
