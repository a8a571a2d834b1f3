"""In-process gateways (tests/support/asgi_gateway.py): the real app and store, a fake upstream, no process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from support.asgi_gateway import AsgiGateway
from support.fake_transport import recorded_provider


@pytest_asyncio.fixture(scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsgiGateway]:
    """One gateway with the default configuration per module; each test starts with the recorded provider."""
    async with AsgiGateway(tmp_path_factory.mktemp("asgi-gateway")) as g:
        yield g


@pytest.fixture(autouse=True)
def _recorded_upstream(request: pytest.FixtureRequest) -> None:
    if "gw" in request.fixturenames:
        request.getfixturevalue("gw").transport.handler = recorded_provider
