"""Contract for shared stores: claimers in several OS processes never double-claim."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from rota.backends import backend_from_url
from rota.core.models import Task, TaskFilter
from rota.core.ordering import claim_key
from rota.core.states import TaskState
from tests.contract.claimer import run_claimer
from tests.contract.conftest import Store
from tests.contract.helpers import insert, make_task

PROCESSES = 4
PER_PROCESS = 2_000
BATCHES = (7, 16, 25, 40)  # each process claims in batches of its own size


@pytest.mark.slow
async def test_processes_claim_every_task_exactly_once(shared_store: Store, tmp_path: Path) -> None:
    total = PROCESSES * PER_PROCESS
    backend = backend_from_url(shared_store.url)
    await backend.open()
    try:
        stored: list[Task] = []
        for start in range(0, total, 1000):
            stored += await insert(
                backend,
                *[
                    make_task(f"t{i:05d}", priority=(i * 37) % 101)
                    for i in range(start, start + 1000)
                ],
            )

        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(PROCESSES)
        outs = [tmp_path / f"claimed-{n}.txt" for n in range(PROCESSES)]
        procs = [
            ctx.Process(
                target=run_claimer,
                args=(shared_store.url, f"proc-{n}", BATCHES[n], str(outs[n]), barrier),
            )
            for n in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        try:
            for proc in procs:
                proc.join(timeout=90)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
                    proc.join()
        assert [p.exitcode for p in procs] == [0] * PROCESSES

        lines = {f"proc-{n}": out.read_text().splitlines() for n, out in enumerate(outs)}
        claimed = {w: [line.split()[0] for line in ls] for w, ls in lines.items()}
        counts = Counter(i for ids in claimed.values() for i in ids)
        assert len(counts) == total, "some tasks were never claimed"
        assert set(counts) == {t.id for t in stored}
        doubles = [i for i, n in counts.items() if n > 1]
        assert doubles == [], f"claimed more than once: {doubles[:10]}"
        # The claims did run side by side. SQLite's write lock is not fair (a process
        # waiting for it sleeps and polls), so there one process may get none.
        busy = sum(1 for ids in claimed.values() if ids)
        assert busy >= (2 if shared_store.kind.name == "sqlite" else PROCESSES), busy

        refused = [line for ls in lines.values() for line in ls if not line.endswith(" 1")]
        assert refused == [], "a completion under a fresh lease was refused"

        # each process saw the contract order: later claims never rank above earlier ones
        key = {t.id: claim_key(t) for t in stored}
        for worker, ids in claimed.items():
            assert [key[i] for i in ids] == sorted(key[i] for i in ids), worker

        # the store agrees: every task succeeded once, reported by the process that claimed it
        owner = {i: worker for worker, ids in claimed.items() for i in ids}
        done: list[Task] = []
        cursor: int | None = None
        while page := await backend.task_list(TaskFilter(), after_seq=cursor, limit=1000):
            done += page
            cursor = page[-1].seq
        assert len(done) == total
        for task in done:
            assert task.state is TaskState.SUCCEEDED, task.id
            assert task.attempt == 1, task.id
            assert task.worker_id == owner[task.id] == task.result, task.id
    finally:
        await backend.close()
