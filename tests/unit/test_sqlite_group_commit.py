"""SQLite's group commit: inserts arriving together share one commit, and one caller's
batch that the store refuses fails only that caller (issue 14's probe: a bad insert raced
against good ones made a quarter of the good ones fail)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rota.backends.sqlite import SQLiteBackend
from rota.core.errors import ValidationError
from tests.contract.helpers import make_task


async def test_a_batch_the_store_cannot_bind_fails_alone(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "t.db")
    await backend.open()
    try:
        good = [backend.task_insert_many([make_task(f"good-{i}")]) for i in range(40)]
        bad = [
            backend.task_insert_many([make_task("bad-queue", queue="q\ud800")]),
            backend.task_insert_many([make_task("bad-payload", payload={"k": "\ud800"})]),
        ]
        results = await asyncio.gather(*good[:20], *bad, *good[20:], return_exceptions=True)
        refused = results[20:22]
        stored = results[:20] + results[22:]
        assert all(isinstance(r, ValidationError) for r in refused), refused
        assert all(isinstance(r, list) and len(r) == 1 for r in stored), stored
        for i in range(40):
            task = await backend.task_get(f"good-{i}")
            assert task is not None and task.seq > 0
        assert await backend.task_get("bad-queue") is None
        assert await backend.task_get("bad-payload") is None
    finally:
        await backend.close()


@pytest.mark.parametrize("count", [1, 3])
async def test_good_batches_still_share_commits(tmp_path: Path, count: int) -> None:
    backend = SQLiteBackend(tmp_path / "t.db")
    await backend.open()
    try:
        batches = [[make_task(f"b{b}-{i}") for i in range(count)] for b in range(10)]
        results = await asyncio.gather(*(backend.task_insert_many(b) for b in batches))
        assert [len(r) for r in results] == [count] * 10
        seqs = sorted(r.task.seq for result in results for r in result)
        assert seqs == list(range(seqs[0], seqs[0] + 10 * count))
    finally:
        await backend.close()
