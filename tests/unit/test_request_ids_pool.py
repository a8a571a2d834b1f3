"""Request ids from the pooled CSPRNG bytes (ids.py): valid UUIDv4, never repeated, fresh bytes after a fork."""

from __future__ import annotations

import os
import threading
import uuid

from switchyard import ids


def test_ids_are_uuid4_and_unique_across_refills_and_threads() -> None:
    made: list[str] = []

    def work() -> None:
        made.extend(ids.new_request_id() for _ in range(3 * ids._BATCH))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == len(set(made)) == 12 * ids._BATCH
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in made)


def test_a_forked_child_does_not_reuse_the_parents_bytes() -> None:
    ids.new_request_id()  # the pool now holds bytes a child could otherwise reuse
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its next id, to the parent
        os.write(w, ids.new_request_id().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 64).decode()
    os.waitpid(pid, 0)
    os.close(r)
    assert child != ids.new_request_id()


def test_a_batch_is_its_bytes_as_uuid4s(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A batch writes id i from bytes 16i..16i+15 exactly as uuid.UUID(bytes=..., version=4) does (version and
    variant digits set); across batches every value of the two bytes those digits come from is met."""
    for _ in range(4):
        raw = os.urandom(16 * ids._BATCH)
        monkeypatch.setattr(ids, "urandom", lambda n, raw=raw: raw)
        made = ids._batch()
        assert made == [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(ids._BATCH)]
    every = bytes(range(256))
    raw = b"".join(
        os.urandom(6) + every[v : v + 1] + b"\x5a" + every[255 - v : 256 - v] + os.urandom(7)
        for v in range(256)
    )
    monkeypatch.setattr(ids, "urandom", lambda n, raw=raw: raw)
    assert ids._batch() == [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(256)]
