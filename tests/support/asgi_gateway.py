"""The real gateway application in the test's own process: no subprocess, no socket.

`AsgiGateway` builds the ASGI app (`switchyard.app.create_app`) from a configuration dict, with its embedded
SQLite store in a temporary home and a `FakeTransport` as its upstream client, runs the app's lifespan the way
a server does (ASGI `lifespan.startup` / `lifespan.shutdown` messages), and drives it with
`httpx.AsyncClient(transport=httpx.ASGITransport(app))`. Organisations and keys are made through the store, as
the CLI's commands do, and log rows are read back from the store.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from switchyard.app import Gateway, create_app
from switchyard.config import load_settings
from switchyard.providers.transport import Timeouts
from switchyard.security import display_prefix, new_gateway_key

from .fake_transport import FakeTransport, Handler, recorded_provider

OPENAI_KEY = "sk-upstream-openai-secret-0001"
ANTHROPIC_KEY = "sk-ant-upstream-secret-0002"
GEMINI_KEY = "AIzaUpstreamSecret0003xyz"


def inprocess_config(**extra: Any) -> dict[str, Any]:
    """The e2e default configuration (tests/support/gateway.py) with the providers' real base URLs: nothing is
    listened on; the fake transport answers every URL. `extra` merges one level deep into its sections."""
    cfg: dict[str, Any] = {
        "providers": {
            "openai": {"api_key": OPENAI_KEY},
            "anthropic": {"api_key": ANTHROPIC_KEY},
            "google-ai-studio": {"api_key": GEMINI_KEY},
            "my-vllm": {
                "format": "openai",
                "base_url": "http://vllm.internal:8000/v1",
                "api_key": "x",
                "completions": True,
            },
        },
        "log": {"flush_interval_ms": 10, "insert_delay_ms": 0},
    }
    for k, v in extra.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


class AsgiGateway:
    """`async with AsgiGateway(home, config) as gw:` — `gw.client` talks to the app, `gw.transport.sent` holds
    what reached the upstream, `gw.key` is a gateway key of organisation "test"."""

    def __init__(
        self, home: Path, config: dict[str, Any] | None = None, handler: Handler = recorded_provider
    ):
        self.home = home
        self.config = inprocess_config() if config is None else config
        self.handler = handler
        self.key = ""
        self.org_id = ""
        self._orgs: dict[str, str] = {}
        self._key_orgs: dict[str, str] = {}

    async def __aenter__(self) -> AsgiGateway:
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "switchyard.yaml"
        path.write_text(yaml.safe_dump(self.config))
        settings = load_settings(str(path), env={"SWITCHYARD_HOME": str(self.home)})
        up = settings.upstream
        self.transport = FakeTransport(
            self.handler,
            timeouts=Timeouts(up.connect_timeout, up.first_byte_timeout, up.total_timeout),
            max_response_bytes=up.max_response_bytes,
        )
        self.app: Gateway = create_app(settings, env={}, transport=self.transport)
        await self._lifespan_start()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gateway.test", timeout=30
        )
        self.key = await self.new_key("test")
        self.org_id = self._key_orgs[self.key]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self._lifespan_stop()

    # -- lifespan, as a server runs it ----------------------------------------------------------------------------
    async def _lifespan_start(self) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._lifespan = asyncio.create_task(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")

    async def _lifespan_stop(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown.complete")
        await self._lifespan

    async def _expect(self, kind: str) -> None:
        got = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({got, self._lifespan}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not got.done():
            got.cancel()
            if self._lifespan.done():
                self._lifespan.result()  # the app's own exception
            raise AssertionError(f"no {kind} from the app")
        message = got.result()
        assert message["type"] == kind, message

    # -- organisations, keys and rows, through the store ----------------------------------------------------------
    @property
    def store(self) -> Any:
        assert self.app.deps is not None
        return self.app.deps.store

    async def new_key(self, org: str, name: str | None = "inprocess") -> str:
        """A new gateway key of organisation `org` (made if it does not exist), as `switchyard keys create`."""
        if org not in self._orgs:
            self._orgs[org] = (await self.store.create_org(org)).id
        key = new_gateway_key()
        assert self.app.deps is not None
        await self.store.create_key(
            self._orgs[org], self.app.deps.secrets.hash_key(key), display_prefix(key), name
        )
        self._key_orgs[key] = self._orgs[org]
        return key

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **extra}

    async def post(self, path: str, body: Any, key: str | None = None, **headers: str) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers(key, **headers))

    async def row(self, request_id: str, key: str | None = None, timeout: float = 10) -> dict[str, Any]:
        """The request's log row as the store holds it, once the writer has stored it."""
        org = self._key_orgs[key or self.key]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await self.store.get_request(org, request_id)
            if row is not None:
                return row
            await asyncio.sleep(0.01)
        raise AssertionError(f"no log row for request {request_id} after {timeout}s")
