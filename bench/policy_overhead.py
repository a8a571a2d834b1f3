"""CPU per request of the policy steps a rate-limited fallback chain adds (issue 10's "full policy set"), in process:
`Limits.admit` + `Limits.finish` (in-process limiter) for a few rule shapes, and `order` of a two-item chain.
Process CPU time, best of 5 runs, so other load on the machine inflates it less than wall time would.

Usage: .venv/bin/python bench/policy_overhead.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from types import SimpleNamespace
from typing import Any

from switchyard.config import Settings
from switchyard.observe.metrics import Metrics
from switchyard.pipeline.auth import Principal
from switchyard.pipeline.headers import HeliconeHeaders
from switchyard.pipeline.limits import Limits
from switchyard.pipeline.order import order
from switchyard.pipeline.plan import Planner
from switchyard.providers.registry import load_registry
from switchyard.stores.base import GatewayKey, LimitRule, Org
from switchyard.stores.limiter_memory import MemoryLimiter


def _best(fn: Any, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        fn(n)
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


async def _limits(label: str, principal: Principal, headers: dict[str, str], n: int) -> None:
    lim = Limits(MemoryLimiter())
    lim.metrics = Metrics(process=False)
    ctx = SimpleNamespace(
        body={"model": "m", "messages": []},
        raw_body=b"{}",
        principal=principal,
        forward_headers=headers,
        helicone=HeliconeHeaders("rid", user_id="alice"),
        cache_hit=False,
        cost_usd=None,
        usage=None,
    )

    async def run(k: int) -> None:
        for _ in range(k):
            lim.finish(await lim.admit(ctx, []), ctx)

    await run(1000)
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        await run(n)
        best = min(best, (time.process_time() - t0) / n * 1e6)
    print(f"| admit + finish: {label} | {best:.2f} |")


async def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    org = Org("org-1", "o", 0)
    key = GatewayKey("key-1", "org-1", None, "p", 0, None)
    p = Principal(key=key, org=org)
    print("| step | CPU µs per request |\n|---|---:|")
    await _limits("no rule", p, {}, n)
    await _limits("policy `1000000000;w=60`", p, {"helicone-ratelimit-policy": "1000000000;w=60"}, n)
    await _limits("policy per user `…;s=user`", p, {"helicone-ratelimit-policy": "1000000000;w=60;s=user"}, n)
    key2 = GatewayKey("key-2", "org-1", None, "p", 0, None, limits=(LimitRule("requests", 1e9, 60),))
    org2 = Org("org-2", "o", 0, limits=(LimitRule("tokens", 1e12, 3600, "org"),))
    p2 = Principal(key=key2, org=org2)
    await _limits("key requests + org tokens", p2, {}, n)
    await _limits("policy + key + org", p2, {"helicone-ratelimit-policy": "1000000000;w=60"}, n)
    settings = Settings.model_validate(
        {
            "home": "/tmp/switchyard-bench-policy",
            "providers": {
                "mock-json": {"format": "openai", "base_url": "http://127.0.0.1:18080/v1", "api_key": "k"},
                "mock-sse": {"format": "openai", "base_url": "http://127.0.0.1:18081/v1", "api_key": "k"},
            },
        }
    )
    planner = Planner(load_registry(settings, env={}))
    for model in ("gpt-4o-mini/mock-json", "gpt-4o-mini/mock-json,gpt-4o-mini/mock-sse"):
        attempts = planner.plan(model)

        def run(k: int, attempts: Any = attempts, model: str = model) -> None:
            for _ in range(k):
                order(planner.plan(model), None)

        print(f"| plan (cached) + order: `{model}` ({len(attempts)} attempts) | {_best(run, n):.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
