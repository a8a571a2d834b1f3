"""The prompt store (stores/sql_prompts.py) on SQLite and PostgreSQL: ids, immutable numbered versions,
environments that deploy and roll back, the revision counter, isolation between organisations."""

from __future__ import annotations

import secrets

import pytest

from switchyard.stores.base import Conflict, NotFound
from switchyard.stores.sql_prompts import PromptStore

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Hi {{hc:n:string}}"}]}


async def _org(store) -> str:
    return (await store.create_org(f"prompts-{secrets.token_hex(4)}")).id


async def test_create_version_deploy_rollback(store):
    ps = PromptStore(store)
    org, other = await _org(store), await _org(store)
    rev0 = await ps.revision()
    pid, v1 = await ps.create(org, None, "greeter", BODY, 1)
    assert len(pid) == 6 and pid.isalnum() and v1.number == 1
    assert await ps.revision() > rev0
    assert (await ps.resolve(org, pid, "production")).id == v1.id
    v2 = await ps.add_version(org, pid, {**BODY, "temperature": 0.1}, 2)
    assert v2.number == 2 and (await ps.resolve(org, pid, "production")).id == v1.id  # not deployed yet
    rev1 = await ps.revision()
    await ps.deploy(org, pid, "production", v2.id, 3)
    await ps.deploy(org, pid, "staging", v1.id, 3)
    assert await ps.revision() > rev1
    assert (await ps.resolve(org, pid, "production")).body["temperature"] == 0.1
    await ps.deploy(org, pid, "production", v1.id, 4)  # roll back
    assert (await ps.resolve(org, pid, "production")).id == v1.id
    p = await ps.get(org, pid)
    assert p.name == "greeter" and [v.number for v in p.versions] == [1, 2]
    assert p.environments == {"production": v1.id, "staging": v1.id}
    assert p.versions[0].body == BODY
    assert (await ps.version(org, pid, v2.id)).body["temperature"] == 0.1
    assert [x.id for x in await ps.list(org)] == [pid]

    # another organisation sees nothing and cannot reuse it
    assert await ps.get(other, pid) is None and await ps.resolve(other, pid, "production") is None
    assert await ps.version(other, pid, v2.id) is None
    with pytest.raises(NotFound):
        await ps.deploy(other, pid, "production", v2.id, 5)
    with pytest.raises(NotFound):
        await ps.add_version(other, pid, BODY, 5)
    pid2, _ = await ps.create(other, pid, None, BODY, 5)  # ids are per organisation
    assert pid2 == pid


async def test_explicit_id_conflict_and_unknown_version(store):
    ps = PromptStore(store)
    org = await _org(store)
    pid, _ = await ps.create(org, "my-prompt", None, BODY, 1)
    assert pid == "my-prompt"
    with pytest.raises(Conflict):
        await ps.create(org, "my-prompt", None, BODY, 2)
    with pytest.raises(NotFound):
        await ps.deploy(org, pid, "staging", "00000000-0000-0000-0000-000000000000", 3)
    assert await ps.resolve(org, pid, "staging") is None


async def test_limits_per_organisation_and_prompt(store, monkeypatch):
    monkeypatch.setattr(PromptStore, "max_prompts", 2)
    monkeypatch.setattr(PromptStore, "max_versions", 2)
    ps = PromptStore(store)
    org = await _org(store)
    pid, _ = await ps.create(org, None, None, BODY, 1)
    await ps.create(org, None, None, BODY, 1)
    with pytest.raises(Conflict, match="2 prompts, the most allowed"):
        await ps.create(org, None, None, BODY, 1)
    await ps.add_version(org, pid, BODY, 2)
    with pytest.raises(Conflict, match="2 versions, the most allowed"):
        await ps.add_version(org, pid, BODY, 3)
    assert [v.number for v in (await ps.get(org, pid)).versions] == [1, 2]
