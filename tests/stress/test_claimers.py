"""Many concurrent claimers on one store: no task is claimed twice, no priority inversion.

Every task is inserted up front, so each one is ready from the start until it is claimed.
A claimed task X is an *inversion* when some task Y of higher priority was claimed by a
claim that started after X's claim had ended: Y was then ready and unleased during the whole
of X's claim, so the ordering contract says X's claim should have taken Y first. Claim times
are wall-clock readings taken just outside the call, so the intervals can only be wider than
the real ones, which can hide an inversion but never invent one.
"""

from __future__ import annotations

import bisect
import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rota.backends import backend_from_url
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState
from tests.conftest import drop_redis_store, new_redis_store
from tests.stress.claimer import run_claimers
from tests.stress.conftest import sized

CLAIMS = sized(100_000, 10_000)
SQLITE_CLAIMS = sized(25_000, 5_000)
INSERT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Claim:
    """One task as one claimer got it."""

    task_id: str
    priority: int
    start: float  # time.time() just before the claim call
    end: float  # ... and just after it returned
    applied: bool  # the completion under this lease was accepted
    claimer: str


def find_inversions(claims: Sequence[Claim]) -> list[tuple[Claim, Claim]]:
    """(X, Y) pairs, one per inverted X: Y outranks X and was claimed after X's claim ended.

    O(n log n): sort by claim start, keep the best priority over each suffix, and for each X
    look up (by binary search) the first claim that started after X's claim ended.
    """
    by_start = sorted(claims, key=lambda c: c.start)
    starts = [c.start for c in by_start]
    best_after: list[Claim | None] = [None] * (len(by_start) + 1)
    for i in range(len(by_start) - 1, -1, -1):
        later = best_after[i + 1]
        here = by_start[i]
        best_after[i] = here if later is None or here.priority > later.priority else later
    found = []
    for x in claims:
        y = best_after[bisect.bisect_right(starts, x.end)]
        if y is not None and y.priority > x.priority:
            found.append((x, y))
    return found


def max_overlap(claims: Sequence[Claim]) -> int:
    """The most claim calls that were in flight at one instant."""
    calls = {(c.claimer, c.start, c.end) for c in claims}
    edges = sorted([(s, 1) for _, s, _ in calls] + [(e, -1) for _, _, e in calls])
    depth = best = 0
    for _, step in edges:  # at a tie, an end (-1) sorts before a start (+1)
        depth += step
        best = max(best, depth)
    return best


def test_inversion_finder_catches_what_it_should() -> None:
    def c(task: str, priority: int, start: float, end: float) -> Claim:
        return Claim(task, priority, start, end, True, "w")

    low, high = c("low", 10, 0.0, 1.0), c("high", 90, 2.0, 3.0)
    assert find_inversions([low, high]) == [(low, high)]
    overlapping = c("high", 90, 0.5, 3.0)  # started before low's claim ended: not provable
    assert find_inversions([low, overlapping]) == []
    assert find_inversions([high, c("low", 10, 4.0, 5.0)]) == []
    equal = c("same", 10, 2.0, 3.0)
    assert find_inversions([low, equal]) == []
    assert max_overlap([low, overlapping, c("x", 1, 2.5, 4.0)]) == 2


def _tasks(total: int, seed: int, queues: Sequence[str]) -> list[Task]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    levels = [0, 10, 20, 20, 50, 50, 80, 100]
    return [
        Task(
            id=f"s{i:06d}",
            queue=rng.choice(queues),
            kind="work",
            payload={"i": i},
            priority=rng.choice([*levels, rng.randint(0, 100)]),
            state=TaskState.QUEUED,
            run_at=now,
            created_at=now,
        )
        for i in range(total)
    ]


async def _claim_concurrently(
    url: str,
    tmp_path: Path,
    *,
    total: int,
    processes: int,
    claimers: int,
    queues: Sequence[str] = ("default",),
) -> None:
    backend = backend_from_url(url)
    await backend.open()
    try:
        tasks = _tasks(total, seed=total, queues=queues)
        for start in range(0, total, INSERT_BATCH):
            await backend.task_insert_many(tasks[start : start + INSERT_BATCH])

        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(processes)
        outs = [tmp_path / f"claims-{n}.txt" for n in range(processes)]
        procs = [
            ctx.Process(target=run_claimers, args=(url, n, claimers, str(outs[n]), barrier))
            for n in range(processes)
        ]
        for proc in procs:
            proc.start()
        try:
            for proc in procs:
                proc.join(timeout=sized(1500, 90))
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
                proc.join()
        assert [p.exitcode for p in procs] == [0] * processes

        claims = []
        for out in outs:
            for line in out.read_text().splitlines():
                task_id, priority, start_s, end_s, ok, claimer = line.split()
                claims.append(
                    Claim(task_id, int(priority), float(start_s), float(end_s), ok == "1", claimer)
                )

        counts = Counter(c.task_id for c in claims)
        doubles = [(i, n) for i, n in counts.items() if n > 1]
        assert doubles == [], f"{len(doubles)} tasks claimed more than once: {doubles[:10]}"
        assert set(counts) == {t.id for t in tasks}, "some tasks were never claimed"
        refused = [c for c in claims if not c.applied]
        assert refused == [], f"completions under a live lease refused: {refused[:5]}"
        by_claimer = Counter(c.claimer for c in claims)
        # fairness is not promised (SQLite's lock may starve a process), sharing is
        assert len(by_claimer) >= 2, f"one claimer got every task: {by_claimer}"

        inversions = find_inversions(claims)
        examples = [
            f"{x.task_id} (priority {x.priority}, claim {x.start:.6f}..{x.end:.6f} by "
            f"{x.claimer}) while {y.task_id} (priority {y.priority}) waited until "
            f"{y.start:.6f} ({y.claimer})"
            for x, y in inversions[:5]
        ]
        assert inversions == [], f"{len(inversions)} priority inversions, e.g. {examples}"
        overlap = max_overlap(claims)
        assert overlap >= 2, "the claims never overlapped: this proved nothing about concurrency"

        counted: Counter[tuple[TaskState, int]] = Counter()
        for q in await backend.task_count_by_queue():  # one entry per queue, state and priority
            counted[q.state, q.priority] += q.count
        assert {s for s, _ in counted} == {TaskState.SUCCEEDED}, counted
        assert sum(counted.values()) == total
        owner = {c.task_id: c.claimer for c in claims}
        cursor: int | None = None
        seen = 0
        while page := await backend.task_list(TaskFilter(), after_seq=cursor, limit=1000):
            for task in page:
                assert task.attempt == 1, task
                assert task.worker_id == owner[task.id] == task.result, task
            seen += len(page)
            cursor = page[-1].seq
        assert seen == total
        print(
            f"{total} tasks, {len(by_claimer)} of {processes * claimers} claimers got some, "
            f"{len({(c.claimer, c.start) for c in claims})} claims, "
            f"at most {overlap} in flight at once"
        )
    finally:
        await backend.close()


@pytest.mark.stress
@pytest.mark.slow
async def test_postgres_claimers_never_double_claim_nor_invert(pg_url: str, tmp_path: Path) -> None:
    """16 claimers: 4 processes x 4 asyncio tasks, each with its own connection."""
    await _claim_concurrently(pg_url, tmp_path, total=CLAIMS, processes=4, claimers=4)


@pytest.mark.stress
@pytest.mark.slow
async def test_postgres_claimers_across_queues_never_double_claim_nor_invert(
    pg_url: str, tmp_path: Path
) -> None:
    """The same over three queues: claims across every queue then merge the queues' heads
    (claim_merge), and the contract order holds across queues."""
    await _claim_concurrently(
        pg_url, tmp_path, total=CLAIMS, processes=4, claimers=4, queues=("q-a", "q-b", "q-c")
    )


@pytest.mark.stress
@pytest.mark.slow
async def test_sqlite_claimers_never_double_claim_nor_invert(tmp_path: Path) -> None:
    """4 processes on one SQLite file."""
    url = f"sqlite:///{tmp_path / 'rota.db'}"
    await _claim_concurrently(url, tmp_path, total=SQLITE_CLAIMS, processes=4, claimers=1)


@pytest.fixture
def redis_store() -> Iterator[str]:
    url = new_redis_store()
    try:
        yield url
    finally:
        drop_redis_store(url)


@pytest.mark.stress
@pytest.mark.slow
async def test_redis_claimers_never_double_claim_nor_invert(
    redis_store: str, tmp_path: Path
) -> None:
    """16 claimers on one Redis namespace: 4 processes x 4 asyncio tasks."""
    await _claim_concurrently(redis_store, tmp_path, total=CLAIMS, processes=4, claimers=4)


@pytest.mark.stress
@pytest.mark.slow
async def test_redis_claimers_across_queues_never_double_claim_nor_invert(
    redis_store: str, tmp_path: Path
) -> None:
    """The same over three queues: the claim script merges the queues' heads."""
    await _claim_concurrently(
        redis_store, tmp_path, total=CLAIMS, processes=4, claimers=4, queues=("q-a", "q-b", "q-c")
    )
