"""Shared fixtures: a mock upstream replaying recorded traffic, and a real gateway process in front of it."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator

import pytest

from support import heap_freeze
from support.fault_upstream import FaultUpstream
from support.gateway import GatewayProcess, default_config, free_port
from support.httpx_tls import share_default_tls_context
from support.mock_upstream import MockUpstream
from support.module_order import module_costs, slowest_modules_first
from support.serve_fork import forked_cpu
from support.serve_fork import shutdown as stop_forkserver


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    # LiteLLM fetches its model cost map from GitHub on import (three tries with sleeps, ~10 s offline) unless told
    # to use its bundled copy; set before any test module or subprocess imports it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    share_default_tls_context()  # one TLS context for the test process's httpx clients (support/httpx_tls.py)
    # the slowest modules first (support/module_order.py), not pytest-xdist's most-tests-first
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_forkserver()  # reaps the gateways' forkserver, so their CPU counts in this process's (support/serve_fork.py)


def pytest_collection_finish(session: pytest.Session) -> None:
    heap_freeze.settle()  # the test modules and what they imported: out of every later full collection


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slowest_modules_first(items, module_costs())


_CPU_LOG = os.environ.get("SWITCHYARD_TEST_CPU_LOG")  # a file: one line per test, for finding where time goes


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + forked_cpu()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With SWITCHYARD_TEST_CPU_LOG set: append `nodeid<TAB>cpu s<TAB>wall s` per test (setup, call and teardown;
    CPU of this process, of the subprocesses it reaped meanwhile, e.g. a gateway stopped in a teardown, and of the
    forked gateways signalled or waited for meanwhile, as /proc last showed it). After a module's last test, the
    heap is settled (support/heap_freeze.py)."""
    if not _CPU_LOG:
        yield
        heap_freeze.after_test(item, nextitem)
        return
    cpu, wall = _cpu(), time.perf_counter()
    yield
    heap_freeze.after_test(item, nextitem)
    with open(_CPU_LOG, "a") as f:
        f.write(f"{item.nodeid}\t{_cpu() - cpu:.3f}\t{time.perf_counter() - wall:.3f}\n")


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
