"""Store contract: provider keys (BYOK) on every backend (see conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from switchyard.stores.base import Conflict, NotFound, Org
from switchyard.stores.sql import SQLStore


def uid() -> str:
    return uuid.uuid4().hex


async def new_org(store: SQLStore) -> Org:
    return await store.create_org(f"byok-{uid()}")


async def test_create_get_round_trip(store: SQLStore) -> None:
    org = await new_org(store)
    config = {"region": "eu-west-1", "api_version": "2024-10-21", "nested": {"a": [1, 2]}}
    key = await store.create_provider_key(
        org.id, "bedrock", "CIPHERTEXT", "wxyz", key_id="prod", config=config
    )
    assert (key.id, key.org_id, key.provider, key.hint, key.config) == (
        "prod",
        org.id,
        "bedrock",
        "wxyz",
        config,
    )
    assert key.enabled is True and key.created_at == key.updated_at > 0
    assert key.ciphertext == "CIPHERTEXT"
    assert await store.get_provider_key(org.id, "prod") == key


async def test_public_view_and_repr_never_show_the_ciphertext(store: SQLStore) -> None:
    org = await new_org(store)
    key = await store.create_provider_key(org.id, "openai", "SECRET-CIPHERTEXT", "abcd")
    assert "SECRET-CIPHERTEXT" not in repr(key)
    assert "SECRET-CIPHERTEXT" not in str(key.public())
    assert "ciphertext" not in key.public()


async def test_generated_ids_are_distinct_and_addressable(store: SQLStore) -> None:
    org = await new_org(store)
    a = await store.create_provider_key(org.id, "openai", "c1", "aaaa")
    b = await store.create_provider_key(org.id, "openai", "c2", "bbbb", enabled=False)
    assert a.id != b.id and "/" not in a.id and a.id.strip() == a.id
    assert await store.get_provider_key(org.id, a.id) == a
    got = await store.get_provider_key(org.id, b.id)
    assert got is not None and got.enabled is False and got.config == {}


async def test_duplicate_id_in_one_org_conflicts_but_not_across_orgs(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    first = await store.create_provider_key(org.id, "openai", "c1", "aaaa", key_id="main")
    with pytest.raises(Conflict):
        await store.create_provider_key(org.id, "anthropic", "c2", "bbbb", key_id="main")
    assert await store.get_provider_key(org.id, "main") == first
    theirs = await store.create_provider_key(other.id, "anthropic", "c3", "cccc", key_id="main")
    assert theirs.org_id == other.id and theirs.provider == "anthropic"
    assert await store.get_provider_key(org.id, "main") == first


async def test_unknown_org_is_not_found(store: SQLStore) -> None:
    org_id = str(uuid.uuid4())
    with pytest.raises(NotFound):
        await store.create_provider_key(org_id, "openai", "c", "abcd", key_id="k")
    assert await store.list_provider_keys(org_id) == []


@pytest.mark.parametrize("bad", ["", "a/b", " padded", "x" * 65])
async def test_unaddressable_ids_are_refused(store: SQLStore, bad: str) -> None:
    org = await new_org(store)
    with pytest.raises(ValueError, match="provider key id"):
        await store.create_provider_key(org.id, "openai", "c", "abcd", key_id=bad)
    assert await store.list_provider_keys(org.id) == []


async def test_list_is_org_scoped_in_creation_order(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    a = await store.create_provider_key(org.id, "openai", "c1", "aaaa", key_id="a")
    b = await store.create_provider_key(org.id, "anthropic", "c2", "bbbb", key_id="b")
    c = await store.create_provider_key(other.id, "openai", "c3", "cccc", key_id="a")
    assert await store.list_provider_keys(org.id) == [a, b]
    assert await store.list_provider_keys(other.id) == [c]
    everything = await store.list_provider_keys()
    assert a in everything and b in everything and c in everything


async def test_get_is_org_scoped(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    await store.create_provider_key(org.id, "openai", "c1", "aaaa", key_id="only-mine")
    assert await store.get_provider_key(other.id, "only-mine") is None
    assert await store.get_provider_key(org.id, "missing") is None


async def test_update_changes_only_what_is_given(store: SQLStore) -> None:
    org = await new_org(store)
    key = await store.create_provider_key(
        org.id, "azure", "c1", "aaaa", key_id="az", config={"resource": "r1"}
    )
    rotated = await store.update_provider_key(org.id, "az", ciphertext="c2", hint="bbbb")
    assert (rotated.ciphertext, rotated.hint, rotated.config, rotated.enabled) == (
        "c2",
        "bbbb",
        {"resource": "r1"},
        True,
    )
    assert rotated.created_at == key.created_at and rotated.updated_at >= key.updated_at
    disabled = await store.update_provider_key(org.id, "az", enabled=False, config={"resource": "r2"})
    assert (disabled.ciphertext, disabled.hint, disabled.config, disabled.enabled) == (
        "c2",
        "bbbb",
        {"resource": "r2"},
        False,
    )
    cleared = await store.update_provider_key(org.id, "az", config={})
    assert cleared.config == {} and cleared.enabled is False
    assert await store.get_provider_key(org.id, "az") == cleared


async def test_update_and_delete_missing_are_not_found(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    await store.create_provider_key(org.id, "openai", "c", "abcd", key_id="k")
    with pytest.raises(NotFound):
        await store.update_provider_key(org.id, "missing", enabled=False)
    with pytest.raises(NotFound):
        await store.delete_provider_key(org.id, "missing")
    with pytest.raises(NotFound):  # another org's id is not this org's key
        await store.delete_provider_key(other.id, "k")
    assert await store.get_provider_key(org.id, "k") is not None


async def test_delete(store: SQLStore) -> None:
    org = await new_org(store)
    await store.create_provider_key(org.id, "openai", "c", "abcd", key_id="gone")
    keep = await store.create_provider_key(org.id, "openai", "c", "efgh", key_id="kept")
    await store.delete_provider_key(org.id, "gone")
    assert await store.get_provider_key(org.id, "gone") is None
    assert await store.list_provider_keys(org.id) == [keep]
    again = await store.create_provider_key(org.id, "anthropic", "c", "ijkl", key_id="gone")
    assert again.provider == "anthropic", "a deleted id is free to use again"
