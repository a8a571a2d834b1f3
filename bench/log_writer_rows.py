"""The request-log writer alone: N records of the gateway benchmark's shape (bench/switchyard-start.sh's plain chat
request and the mock upstream's answer) through `SQLStore.insert_requests` in batches of B, on a fresh store.
Prints CPU µs per row of each thread (the event loop's, and the SQLite connection's own) and rows/s.

    PYTHONPATH=src .venv/bin/python bench/log_writer_rows.py [N [B [DATABASE_URL]]]   (default 40000 340 sqlite)

No timers run, so the user-space instructions are deterministic: under valgrind, the difference of two runs
(N = 2500 and 5000) over 2500 is the writer's instructions per row (bench/README.md, session 7). `strace -f -c`
on it counts the SQLite thread's page writes and reads."""

import asyncio
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid

from switchyard.stores.sql import SQLStore

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000
# 340: the average batch at saturation (bench/README.md, session 7)
B = int(sys.argv[2]) if len(sys.argv) > 2 else 340
URL = sys.argv[3] if len(sys.argv) > 3 else None

REQUEST = '{"model":"gpt-4o-mini/mock-json","messages":[{"role":"user","content":"What is the capital of France?"}]}'
ANSWER = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1732000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris.",'
    '"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":8,'
    '"total_tokens":22},"system_fingerprint":"fp_bench"}'
)


def record(org_id: str, created_at: int) -> dict:
    rid = str(uuid.uuid4())
    return {
        "id": rid, "uid": rid, "duplicate_of": None, "org_id": org_id, "key_id": str(uuid.uuid4()),
        "created_at": created_at, "path": "/v1/chat/completions", "requested_model": "gpt-4o-mini/mock-json",
        "model": "gpt-4o-mini-2024-07-18", "provider": "mock-json", "status": 200, "error": None,
        "stream": False, "cache_hit": False, "latency_ms": round(random.uniform(2, 9), 3), "ttft_ms": None,
        "overhead_ms": 0.912, "prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22,
        "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0, "cost_usd": None,
        "cost_saved_usd": None, "user_id": None, "session_id": None, "session_path": None, "session_name": None,
        "prompt_id": None, "properties": {}, "request_body": REQUEST, "response_body": ANSWER,
        "attempts": [{"provider": "mock-json", "model": "gpt-4o-mini", "status": 200,
                      "source": "gpt-4o-mini/mock-json/ptb", "latency_ms": 0.372}],
        "pinned": None,
    }  # fmt: skip


def cpu() -> dict[int, tuple[int, int]]:
    out = {}
    for t in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{t}/stat") as stat:
            f = stat.read().rsplit(")", 1)[1].split()
        out[int(t)] = (int(f[11]), int(f[12]))
    return out


async def main() -> None:
    tmp = tempfile.mkdtemp(prefix="log-writer-rows")
    schema = {"schema": f"sy_wrows_{uuid.uuid4().hex[:6]}"} if URL else {}
    store = SQLStore(URL or f"sqlite:///{tmp}/w.db", **schema)
    await store.migrate()
    try:
        org = await store.create_org("w")
        recs = [record(org.id, 1_796_476_149_035 + i // 5) for i in range(N + B)]
        await store.insert_requests(recs[:B])  # opens the writer's connection
        recs = recs[B:]
        a, wall = cpu(), time.perf_counter()
        for i in range(0, len(recs), B):
            await store.insert_requests(recs[i : i + B])
        wall, b = time.perf_counter() - wall, cpu()
        tick, loop = os.sysconf("SC_CLK_TCK"), threading.main_thread().native_id
        for tid in sorted(b):
            (u0, s0), (u1, s1) = a.get(tid, (0, 0)), b[tid]
            if u1 + s1 > u0 + s0:
                name = "loop" if tid == loop else f"thread {tid}"
                print(
                    f"{name}: user {(u1 - u0) / tick / N * 1e6:.1f} sys {(s1 - s0) / tick / N * 1e6:.1f} µs/row"
                )
        print(f"rows/s {N / wall:.0f}")
    finally:
        if URL:
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
        await store.close()
        shutil.rmtree(tmp)


asyncio.run(main())
