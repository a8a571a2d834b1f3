"""The sink's `on_stored` listener (the webhooks' outbox): called with each batch once it is in the store,
directly or by a replay after an outage, never before; a listener that raises does not stop the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_sink import FakeStore, make_sink, records


async def test_listener_sees_stored_batches_only_and_cannot_break_the_writer(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=2)
    seen: list[str] = []
    calls = 0

    def listener(batch: list[dict[str, Any]]) -> None:
        nonlocal calls
        calls += 1
        assert all(r["id"] in store.rows for r in batch)  # in the store before anyone hears of them
        seen.extend(r["id"] for r in batch)
        if calls == 1:
            raise RuntimeError("a listener bug")

    sink.on_stored = listener
    first = records(3)
    for r in first:
        sink.submit(r)
    await sink.close()
    assert seen == [r["id"] for r in first] and sink.written == 3 and sink.restarts == 0

    store.down = True  # a second sink over the same store: spooled while down, heard of on replay
    sink = make_sink(store, tmp_path / "b", batch_size=2)
    sink.on_stored = listener
    later = records(2)
    for r in later:
        sink.submit(r)
    await sink.close()
    assert seen == [r["id"] for r in first]
    store.down = False
    assert await sink.replay() == 2
    assert seen == [r["id"] for r in first + later]
