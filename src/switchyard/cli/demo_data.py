"""`switchyard demo-data --rows N [--org NAME]`: realistic synthetic traffic over the last 30 days, for trying the
dashboard and for benchmarks.

Requests follow a daily rhythm; models and providers in realistic shares and prices; users (a few heavy, many
light); agent sessions with Helicone-Session-Path trees; properties (environment, feature, app version, tenant);
errors with fallback attempts (429/5xx then another provider), cache hits with cost saved, streamed and not.
Rows go in oldest first in large batches, with the log writer's own rollup and session code, so what the
dashboard shows is what a gateway would have logged. Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sqlite3
import sys
import time
import uuid
from typing import Any

import orjson

from ..config import Settings
from ..stores import rollup_sql, rollups
from ..stores.schema import request_properties, requests, text_hash
from ..stores.sql import SQLStore
from .runner import CommandError, command, run_store

DAY_MS = 86_400_000
SPAN_MS = 30 * DAY_MS
BATCH = 20_000

# model, provider, $ per 1M input, $ per 1M output, share, typical latency ms
MODELS = [
    ("gpt-4o-mini", "openai", 0.15, 0.60, 30, 900),
    ("gpt-4o", "openai", 2.50, 10.0, 12, 2200),
    ("gpt-4.1", "openai", 2.00, 8.00, 6, 2500),
    ("claude-3-5-haiku-20241022", "anthropic", 0.80, 4.00, 12, 1100),
    ("claude-sonnet-4-20250514", "anthropic", 3.00, 15.0, 14, 3200),
    ("gemini-2.0-flash", "google-ai-studio", 0.10, 0.40, 10, 700),
    ("gemini-2.5-pro", "google-ai-studio", 1.25, 10.0, 4, 4500),
    ("text-embedding-3-small", "openai", 0.02, 0.0, 8, 150),
    ("llama-3.3-70b", "my-vllm", 0.0, 0.0, 4, 1600),
]
FALLBACK = {"openai": "azure", "anthropic": "bedrock", "google-ai-studio": "vertex", "my-vllm": "openai"}
PATHS = {"text-embedding-3-small": "/v1/embeddings"}
FEATURES = ["chat", "search", "summarize", "support-bot", "code-review", "extract"]
QUESTIONS = [
    "How do I reset my password?",
    "Summarise this ticket for the on-call engineer.",
    "Translate the release notes into German.",
    "Which plan includes SSO?",
    "Write a SQL query for monthly active users.",
    "Explain this stack trace.",
    "Draft a polite reply declining the meeting.",
    "What changed between v2.3 and v2.4?",
]
ANSWERS = [
    "Sure — here are the steps you can follow.",
    "Here is a short summary of the main points.",
    "The answer depends on your plan; the details are below.",
    "I found three relevant documents.",
]
SYSTEM = "You are a helpful assistant for Acme Corp. Answer concisely and cite the knowledge base."
SESSION_SHAPES = [
    ["/plan", "/plan/search", "/plan/search", "/plan/answer"],
    ["/triage", "/triage/classify", "/reply"],
    ["/agent", "/agent/tool", "/agent/tool", "/agent/tool", "/agent/final"],
]


def _weights(items: list[Any], key: int) -> list[float]:
    return [float(m[key]) for m in items]


class Generator:
    """Yields request records oldest first, `rows` of them over the 30 days before `now_ms`."""

    def __init__(self, org_id: str, rows: int, *, now_ms: int, seed: int = 1) -> None:
        self.org_id, self.rows, self.now = org_id, rows, now_ms
        self.rnd = random.Random(seed)
        self.users = [f"user-{i:04d}@example.com" for i in range(max(10, min(2000, rows // 400)))]
        # a few heavy users: Zipf-like weights (cumulative, so each draw is one bisect)
        self.user_cum = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(self.users))))
        self.model_cum = list(itertools.accumulate(_weights(MODELS, 4)))
        self.tenants = [f"tenant-{i:03d}" for i in range(50)]
        self.env_cum = list(itertools.accumulate([85, 10, 5]))
        self._bodies: dict[tuple[str, bool, str], str] = {}

    def times(self) -> list[int]:
        """Sorted timestamps with a daily rhythm (busier in working hours) and slow growth over the month."""
        rnd, start = self.rnd, self.now - SPAN_MS
        out: list[int] = []
        while len(out) < self.rows:
            t = start + rnd.random() * SPAN_MS
            hour = (t % DAY_MS) / 3_600_000
            weight = (0.35 + 0.65 * math.sin(math.pi * max(0.0, min(1.0, (hour - 6) / 14)))) * (
                0.7 + 0.3 * (t - start) / SPAN_MS
            )
            if rnd.random() < weight:
                out.append(int(t))
        out.sort()
        return out

    def records(self) -> Any:
        rnd = self.rnd
        session: list[Any] = []  # (session id, name, user, remaining paths, next time)
        batch: list[dict[str, Any]] = []
        for t in self.times():
            if session and rnd.random() < 0.5:
                sid, name, user, paths = session
                path = paths.pop(0)
                if not paths:
                    session = []
            elif rnd.random() < 0.03:
                shape = rnd.choice(SESSION_SHAPES)
                user = rnd.choices(self.users, cum_weights=self.user_cum)[0]
                sid, name, paths = str(uuid.UUID(int=rnd.getrandbits(128))), shape[0].strip("/"), list(shape)
                path = paths.pop(0)
                session = [sid, name, user, paths] if paths else []
            else:
                sid = name = path = None
                user = rnd.choices(self.users, cum_weights=self.user_cum)[0] if rnd.random() < 0.85 else None
            batch.append(self.one(t, user, sid, name, path))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _request_body(self, model: str, stream: bool, question: str) -> str:
        key = (model, stream, question)
        body = self._bodies.get(key)
        if body is None:
            if model.startswith("text-embedding"):
                body = f'{{"model": "{model}", "input": "{question}"}}'
            else:
                body = (
                    f'{{"model": "{model}", "stream": {str(stream).lower()}, "messages": [{{"role": "system", '
                    f'"content": "{SYSTEM}"}}, {{"role": "user", "content": "{question}"}}]}}'
                )
            self._bodies[key] = body
        return body

    def one(
        self, t: int, user: str | None, sid: str | None, sname: str | None, spath: str | None
    ) -> dict[str, Any]:
        rnd = self.rnd
        model, provider, pin, pout, _, typical = rnd.choices(MODELS, cum_weights=self.model_cum)[0]
        embedding = model.startswith("text-embedding")
        stream = not embedding and rnd.random() < 0.45
        prompt = int(rnd.lognormvariate(6.0, 0.9)) + 20
        completion = 0 if embedding else int(rnd.lognormvariate(5.0, 0.8)) + 5
        cached = int(prompt * 0.6) if rnd.random() < 0.2 else 0
        roll = rnd.random()
        status = 200 if roll > 0.05 else rnd.choice([429, 429, 500, 502, 503, 400])
        cache_hit = status == 200 and not embedding and rnd.random() < 0.08
        latency = max(5.0, rnd.lognormvariate(math.log(typical), 0.5))
        attempts = [
            {
                "provider": provider,
                "model": model,
                "status": status,
                "latency_ms": round(latency, 1),
                "kind": "ptb" if rnd.random() < 0.7 else "byok",
                "retry": 0,
            }
        ]
        final_provider, error = provider, None
        if (
            status != 200 and status != 400 and rnd.random() < 0.6
        ):  # fell back to another provider and succeeded
            backup = FALLBACK[provider]
            attempts[0]["error"] = f"{provider} answered {status}"
            attempts.append(
                {
                    "provider": backup,
                    "model": model,
                    "status": 200,
                    "latency_ms": round(latency * 0.8, 1),
                    "kind": "ptb",
                    "retry": 0,
                }
            )
            latency += latency * 0.8
            status, final_provider = 200, backup
        elif status != 200:
            error = {
                429: "Rate limit reached for requests",
                400: "Invalid 'messages': content must not be empty",
            }.get(status, "Upstream server error")
        cost = (prompt * pin + completion * pout) / 1e6 if status == 200 else None
        if cache_hit:
            latency, saved, cost, attempts = rnd.uniform(2, 12), cost, 0.0, []
        else:
            saved = None
        question = rnd.choice(QUESTIONS)
        props = {
            "environment": rnd.choices(["production", "staging", "dev"], cum_weights=self.env_cum)[0],
            "feature": rnd.choice(FEATURES),
        }
        if rnd.random() < 0.5:
            props["app-version"] = rnd.choice(["2.3.1", "2.4.0", "2.4.1"])
        if rnd.random() < 0.3:
            props["tenant"] = rnd.choice(self.tenants)
        req_body = self._request_body(model, stream, question)
        if embedding:
            resp_body = '{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "<1536 floats>"}]}'
        else:
            answer = rnd.choice(ANSWERS)
            resp_body = (
                (
                    f'{{"id": "chatcmpl-demo", "object": "chat.completion", "model": "{model}", "choices": '
                    f'[{{"index": 0, "message": {{"role": "assistant", "content": "{answer}"}}, '
                    f'"finish_reason": "stop"}}], "usage": {{"prompt_tokens": {prompt}, '
                    f'"completion_tokens": {completion}}}}}'
                )
                if status == 200
                else (f'{{"error": {{"message": "{error}", "type": "upstream_error"}}}}')
            )
        h = f"{rnd.getrandbits(128):032x}"
        return {
            "id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}",
            "org_id": self.org_id,
            "key_id": None,
            "created_at": t,
            "path": PATHS.get(model, "/v1/chat/completions"),
            "requested_model": model,
            "model": model,
            "provider": final_provider,
            "status": status,
            "error": error,
            "stream": stream,
            "cache_hit": cache_hit,
            "latency_ms": round(latency, 3),
            "ttft_ms": round(min(latency, rnd.uniform(80, 600)), 3) if stream and status == 200 else None,
            "overhead_ms": round(rnd.uniform(0.3, 2.5), 3),
            "prompt_tokens": prompt if status == 200 else None,
            "completion_tokens": completion if status == 200 else None,
            "total_tokens": prompt + completion if status == 200 else None,
            "cached_tokens": cached if status == 200 else None,
            "cache_write_tokens": None,
            "reasoning_tokens": None,
            "cost_usd": cost,
            "cost_saved_usd": saved,
            "user_id": user,
            "session_id": sid,
            "session_path": spath,
            "session_name": sname,
            "prompt_id": None,
            "properties": props,
            "request_body": req_body,
            "response_body": resp_body,
            "attempts": attempts,
        }


_COLS = [c.name for c in requests.columns]
_PCOLS = [c.name for c in request_properties.columns]


class Rows:
    """Records → tuples in table column order, as the log writer would store them (JSON text, uid = id)."""

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}

    def _hash(self, text: str) -> str:
        h = self._hashes.get(text)
        if h is None:
            h = self._hashes[text] = text_hash(text)
        return h

    def __call__(self, batch: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rows, props = [], []
        for rec in batch:
            p = rec["properties"]
            for k, v in p.items():
                one = {
                    "request_id": rec["id"],
                    "org_id": rec["org_id"],
                    "key_hash": self._hash(k),
                    "key": k,
                    "value": v,
                    "value_hash": self._hash(v),
                }
                props.append(tuple(map(one.__getitem__, _PCOLS)))
            rec = {
                **rec,
                "uid": rec["id"],
                "duplicate_of": None,
                "properties": orjson.dumps(p).decode(),
                "attempts": orjson.dumps(rec["attempts"]).decode() if rec["attempts"] else None,
            }
            rows.append(tuple(map(rec.get, _COLS)))
        return rows, props


def _sqlite_path(store: SQLStore) -> str:
    path = store.engine.url.database
    if not path or path == ":memory:":
        raise CommandError("demo-data needs a file database (sqlite:///path) or PostgreSQL")
    return path


async def fill(
    store: SQLStore, org_id: str, rows: int, *, now_ms: int | None = None, seed: int = 1, progress: Any = None
) -> int:
    """Insert `rows` synthetic requests for the organisation, with their properties, rollups and sessions (the
    log writer's own rollup code), in bulk: SQLite through one connection in large transactions, PostgreSQL
    with COPY. Ids are fresh random UUIDs, so existing rows are never touched. Returns rows inserted."""
    gen = Generator(org_id, rows, now_ms=now_ms or int(time.time() * 1000), seed=seed)
    convert, done = Rows(), 0
    if store.dialect == "sqlite":
        conn = sqlite3.connect(_sqlite_path(store), timeout=30)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: random-id index pages stay in memory
            req_sql = f"INSERT INTO requests ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})"
            prop_sql = f"INSERT INTO request_properties ({', '.join(_PCOLS)}) VALUES ({', '.join('?' * len(_PCOLS))})"
            for batch in gen.records():
                rs, ps = convert(batch)
                with conn:  # one transaction per batch
                    conn.executemany(req_sql, rs)
                    conn.executemany(prop_sql, ps)
                    for sql, params in rollup_sql.sqlite_statements(rollups.fold(rs, ps).deltas()):
                        conn.execute(sql, params)
                done += len(rs)
                if progress:
                    progress(done)
        finally:
            conn.close()
        return done
    async with store.engine.connect() as sa_conn:
        driver = (await sa_conn.get_raw_connection()).driver_connection
        assert driver is not None  # an open asyncpg connection
        for batch in gen.records():
            rs, ps = convert(batch)
            async with driver.transaction():
                await driver.copy_records_to_table(
                    "requests", records=rs, columns=_COLS, schema_name=store.schema
                )
                await driver.copy_records_to_table(
                    "request_properties", records=ps, columns=_PCOLS, schema_name=store.schema
                )
                await rollup_sql.upsert_postgres(driver, rollups.fold(rs, ps).deltas())
            done += len(rs)
            if progress:
                progress(done)
    return done


@command
def cmd_demo_data(settings: Settings, args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise CommandError("--rows must be at least 1")
    started = time.monotonic()

    def progress(done: int) -> None:
        if done % 100_000 < BATCH or done == args.rows:
            rate = done / max(time.monotonic() - started, 1e-6)
            print(
                f"\r{done:,} / {args.rows:,} rows ({rate:,.0f} rows/s)", end="", file=sys.stderr, flush=True
            )

    async def go(store: SQLStore) -> tuple[str, int]:
        org = await store.get_org_by_name(args.org) or await store.create_org(args.org)
        return org.name, await fill(store, org.id, args.rows, seed=args.seed, progress=progress)

    name, n = run_store(settings, go)
    took = time.monotonic() - started
    print(file=sys.stderr)
    print(f"inserted {n:,} demo requests over the last 30 days into organisation {name} in {took:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo-data",
        parents=[common],
        help="fill the configured database with realistic synthetic traffic (last 30 days)",
    )
    p.add_argument("--rows", type=int, default=10_000, help="requests to generate (default 10,000)")
    p.add_argument(
        "--org", default="default", help="organisation name (created if missing; default: default)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    p.set_defaults(fn=cmd_demo_data)
