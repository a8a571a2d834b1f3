"""The prompt resolution cache (pipeline/prompts.py): served from memory until the store's revision moves (read
at most once a second) or this process invalidates it; bounded in entries and bytes."""

from __future__ import annotations

import pytest

from switchyard.pipeline import prompts as mod
from switchyard.pipeline.prompt_template import MAX_PARTIALS, TemplateError, resolve_partials
from switchyard.stores.sql_prompts import PromptVersion


class FakeStore:
    def __init__(self) -> None:
        self.rev, self.resolves, self.revisions = 1, 0, 0
        self.body = {"messages": [{"role": "system", "content": "A"}]}

    async def revision(self) -> int:
        self.revisions += 1
        return self.rev

    async def resolve(self, org, pid, env):
        self.resolves += 1
        return PromptVersion(f"v-{pid}-{self.rev}", pid, 1, self.body, 0)

    async def version(self, org, pid, vid):
        return None


async def test_cached_until_revision_moves(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock[0])
    store = FakeStore()
    p = mod.Prompts(store)  # type: ignore[arg-type]
    assert (await p.version("o", "x", None, None)).id == "v-x-1"
    await p.version("o", "x", None, None)
    assert store.resolves == 1 and store.revisions == 1  # one poll within the second
    store.rev = 2
    assert (await p.version("o", "x", None, None)).id == "v-x-1"  # not re-read within the second
    clock[0] += 1.5
    assert (await p.version("o", "x", None, None)).id == "v-x-2"
    assert store.resolves == 2
    p.invalidate()  # this process's admin change: at once
    await p.version("o", "x", None, None)
    assert store.resolves == 3


async def test_bounded_by_bytes(monkeypatch):
    monkeypatch.setattr(mod, "_MAX_CACHED_BYTES", 300)
    store = FakeStore()
    store.body = {"messages": [{"role": "system", "content": "x" * 100}]}
    p = mod.Prompts(store)  # type: ignore[arg-type]
    for i in range(10):
        await p.version("o", f"p{i}", None, None)
    assert p._bytes <= 300 and len(p._cache) <= 2


async def test_partial_references_are_bounded():
    async def lookup(pid, env):
        return {"messages": [{"role": "user", "content": "x"}]}

    body = {
        "messages": [
            {"role": "user", "content": " ".join(f"{{{{hcp:p{i}:0}}}}" for i in range(MAX_PARTIALS + 1))}
        ]
    }
    with pytest.raises(TemplateError, match="at most 64"):
        await resolve_partials(body, lookup)
