"""Shared fixtures: a mock upstream replaying recorded traffic, and a real gateway process in front of it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.fault_upstream import FaultUpstream
from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    # LiteLLM fetches its model cost map from GitHub on import (three tries with sleeps, ~10 s offline) unless told
    # to use its bundled copy; set before any test module or subprocess imports it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="session")
def upstream() -> Iterator[MockUpstream]:
    mock = MockUpstream().start()
    yield mock
    mock.stop()


@pytest.fixture(scope="session")
def fault() -> Iterator[FaultUpstream]:
    """The fault-injection upstream (tests/support/fault_upstream.py); tests tell their requests apart by tag."""
    f = FaultUpstream().start()
    yield f
    f.stop()


@pytest.fixture(scope="session")
def gateway(upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path_factory.mktemp("gateway"), default_config(upstream.url, free_port()))
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()
