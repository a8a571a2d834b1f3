"""security.py's master secret: length, empty and short key files, file and directory modes, a race to create
it, the check value, and `verify_master` against a store's recorded value and its provider keys."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from switchyard.config import ConfigError, load_settings
from switchyard.security import (
    MASTER_CHECK,
    MasterKeyError,
    Secrets,
    load_or_create_master,
    verify_master,
)

K1 = b"k1-master-key-0123456789abcdefghijklmnop"
K2 = b"k2-master-key-0123456789abcdefghijklmnop"

posix = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def test_a_short_configured_master_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="at least 32"):
        load_or_create_master("x", tmp_path)
    with pytest.raises(MasterKeyError, match="31 characters"):
        load_or_create_master("y" * 31, tmp_path)
    assert load_or_create_master("z" * 32, tmp_path) == b"z" * 32


@pytest.mark.parametrize("content", [b"", b"\n", b"   \n\n"])
def test_an_empty_master_key_file_is_refused_not_used(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "master.key").write_bytes(content)
    with pytest.raises(MasterKeyError, match="is empty"):
        load_or_create_master(None, tmp_path)
    assert (tmp_path / "master.key").read_bytes() == content  # never silently replaced


def test_a_short_master_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_bytes(b"abc\n")
    with pytest.raises(MasterKeyError, match="3 characters"):
        load_or_create_master(None, tmp_path)


@posix
def test_home_is_created_private_and_a_loose_home_and_key_file_are_tightened(tmp_path: Path) -> None:
    home = tmp_path / "a" / "home"
    load_or_create_master(None, home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600
    os.chmod(home, 0o755)
    os.chmod(home / "master.key", 0o644)
    load_or_create_master(None, home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600


def _race(home: Path, n: int) -> list[bytes | BaseException]:
    results: list[bytes | BaseException] = []
    start = threading.Barrier(n)

    def worker() -> None:
        start.wait()
        try:
            results.append(load_or_create_master(None, home))
        except BaseException as e:  # reported by the caller's assertion
            results.append(e)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_processes_racing_to_create_the_key_all_get_the_same_whole_key(tmp_path: Path) -> None:
    for attempt in range(20):
        home = tmp_path / f"race{attempt}"
        results = _race(home, 8)
        assert len(set(results)) == 1 and isinstance(results[0], bytes) and len(results[0]) >= 32, results
        assert sorted(p.name for p in home.iterdir()) == ["master.key"]  # no temporary file left behind


def test_config_refuses_short_admin_and_master_keys_and_metrics_tokens(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("admin: {key: short}\nsecurity: {master_key: also-short}\nmetrics: {token: tiny}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(cfg), env={})
    text = str(info.value)
    assert "admin.key" in text and "security.master_key" in text and "metrics.token" in text
    assert "at least 32" in text
    assert "also-short" not in text and "tiny" not in text  # the message never repeats a secret
    with pytest.raises(ConfigError, match="SWITCHYARD_ADMIN_KEY"):
        load_settings(None, env={"SWITCHYARD_ADMIN_KEY": "k" * 31})
    assert load_settings(None, env={"SWITCHYARD_ADMIN_KEY": "k" * 32}).admin.key == "k" * 32


def test_check_value_depends_on_the_master_only() -> None:
    assert Secrets(K1).check_value == Secrets(K1).check_value
    assert Secrets(K1).check_value != Secrets(K2).check_value
    assert K1.decode() not in Secrets(K1).check_value


class MetaStore:
    def __init__(self, ciphertexts: list[str] | None = None) -> None:
        self.meta: dict[str, str] = {}
        self.ciphertexts = ciphertexts or []

    async def get_meta(self, name: str) -> str | None:
        return self.meta.get(name)

    async def put_meta_once(self, name: str, value: str) -> str:
        return self.meta.setdefault(name, value)

    async def provider_key_samples(self, limit: int) -> list[str]:
        return self.ciphertexts[:limit]


async def test_the_first_master_key_is_recorded_and_another_is_refused() -> None:
    store = MetaStore()
    await verify_master(store, Secrets(K1), "security.master_key")
    assert store.meta[MASTER_CHECK] == Secrets(K1).check_value
    await verify_master(store, Secrets(K1), "security.master_key")  # the same key again: fine
    with pytest.raises(MasterKeyError) as info:
        await verify_master(store, Secrets(K2), "/home/x/master.key, as security.master_key is not set")
    message = str(info.value)
    assert "not the one this database was set up with" in message and "/home/x/master.key" in message
    assert K2.decode() not in message and K1.decode() not in message


async def test_a_database_from_before_the_check_is_proven_by_its_provider_keys() -> None:
    old = MetaStore([Secrets(K1).encrypt("sk-provider-1"), Secrets(K1).encrypt("sk-provider-2")])
    with pytest.raises(MasterKeyError, match="cannot decrypt any of the provider keys"):
        await verify_master(old, Secrets(K2), "security.master_key")
    assert MASTER_CHECK not in old.meta  # a wrong key records nothing
    await verify_master(old, Secrets(K1), "security.master_key")
    assert old.meta[MASTER_CHECK] == Secrets(K1).check_value
