"""Contract: inserting, reading and listing tasks."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest

from rota.backends import Backend
from rota.core.errors import DuplicateTask, ValidationError
from rota.core.models import UNPLACED, Job, Task, TaskFilter, make_finish
from tests.contract.conftest import Store
from tests.contract.helpers import T0, S, at, claim, insert, make_task


async def all_ids(backend: Backend) -> set[str]:
    return {t.id for t in await backend.task_list(TaskFilter(), after_seq=None, limit=10_000)}


async def test_backend_declares_whether_it_is_shared(store: Store, backend: Backend) -> None:
    assert backend.capabilities.shared is store.kind.shared


async def test_insert_one_round_trips_every_field(backend: Backend) -> None:
    created = T0 + timedelta(microseconds=123_456)
    task = make_task(
        "t-1",
        queue="emails",
        kind="send.welcome",
        priority=73,
        payload={"to": "ann@example.com", "n": 3, "ok": True, "nested": [1, {"é": None}]},
        tenant="acme",
        max_attempts=7,
        timeout=12.5,
        created_at=created,
        run_at=created + timedelta(seconds=90),
    )

    ((stored, existing),) = await backend.task_insert_many([task])

    assert existing is False

    assert stored.seq > 0
    assert stored == task.evolve(seq=stored.seq, place=float(stored.seq))  # no fairness: seq
    got = await backend.task_get("t-1")
    assert got == stored
    assert got is not None
    assert got.state is S.SCHEDULED
    assert got.run_at.utcoffset() == timedelta(0)
    assert got.created_at == created  # microseconds survive the store


async def test_get_unknown_id_is_none(backend: Backend) -> None:
    await insert(backend, make_task("known"))
    assert await backend.task_get("unknown") is None


async def test_insert_many_keeps_order_and_assigns_increasing_seq(backend: Backend) -> None:
    first = await insert(backend, *[make_task(f"a{i}") for i in range(50)])
    second = await insert(backend, *[make_task(f"b{i}") for i in range(5)])

    assert [t.id for t in first] == [f"a{i}" for i in range(50)]
    seqs = [t.seq for t in first + second]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    for task in first + second:
        assert await backend.task_get(task.id) == task


async def test_insert_many_with_an_existing_id_inserts_nothing(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    job = Job("job-1", "batch", T0)

    with pytest.raises(DuplicateTask, match="'a'"):
        await backend.task_insert_many(
            [make_task("b", job_id="job-1"), make_task("a"), make_task("c", job_id="job-1")], job
        )

    assert await all_ids(backend) == {"a"}
    assert await backend.task_get("b") is None
    assert await backend.task_get("c") is None
    assert await backend.job_get("job-1") is None
    assert await backend.event_list("b") == []
    # the store still works and the ids that failed are free
    assert [t.id for t in await insert(backend, make_task("b"), make_task("c"))] == ["b", "c"]


async def test_insert_many_naming_an_id_twice_inserts_nothing(backend: Backend) -> None:
    with pytest.raises(DuplicateTask, match="'x'"):
        await insert(backend, make_task("x"), make_task("y"), make_task("x"))
    assert await all_ids(backend) == set()


async def test_insert_with_an_existing_job_id_inserts_nothing(backend: Backend) -> None:
    await backend.task_insert_many([make_task("a", job_id="j")], Job("j", "first", T0))

    with pytest.raises(DuplicateTask):
        await backend.task_insert_many([make_task("b", job_id="j")], Job("j", "second", T0))

    assert await backend.job_get("j") == Job("j", "first", T0)
    assert await all_ids(backend) == {"a"}


async def test_a_lazy_batch_that_fails_midway_inserts_nothing(backend: Backend) -> None:
    """The service hands over a generator that validates as it goes; a task that fails
    its checks after the first rows were sent must leave no trace (COPY is aborted)."""

    def tasks() -> Iterator[Task]:
        for i in range(120):
            if i == 90:
                raise ValidationError("task 90 is invalid")
            yield make_task(f"lazy{i}")

    with pytest.raises(ValidationError, match="task 90"):
        await backend.task_insert_many(tasks())

    assert await all_ids(backend) == set()
    assert [t.id for t in await insert(backend, make_task("lazy0"))] == ["lazy0"]


AWKWARD = [
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "\\N",
    "\\.",
    "quote\" and 'single'",
    "unicode é 漢字 🚀",
    "\u0001 control",
]


async def test_a_large_batch_round_trips_awkward_text(backend: Backend) -> None:
    """Batches go in by COPY on PostgreSQL: every value must come back exactly. The
    columns rows usually share change from row to row here (PostgreSQL encodes them once
    per run of equal values)."""
    tasks = [
        make_task(
            f"odd.{i}:x-{i}",
            queue="q.1:a-b/c" if i % 5 else AWKWARD[i % len(AWKWARD)],
            kind=f"kind/x.y{i // 7}",
            payload={"text": AWKWARD[i % len(AWKWARD)], "list": AWKWARD, "n": -1.5e-7, "k": i},
            tenant=None if i % 3 == 0 else AWKWARD[i // 3 % len(AWKWARD)],
            timeout=None if i % 4 == 0 else 0.25,
            max_attempts=9 if i < 60 else 2,
            priority=i % 101,
            run_at=None if i % 5 == 1 else T0 + timedelta(seconds=i // 10),  # some scheduled
            job_id=None if i % 7 == 0 else f"job-{i // 30}",
        ).evolve(
            retry=None if i % 2 else {"strategy": "fixed", "delay": 1.5 + i},
            expires_at=None if i % 6 == 0 else T0 + timedelta(hours=1, microseconds=i),
        )
        for i in range(120)
    ]

    stored = await insert(backend, *tasks)

    assert [t.evolve(seq=0, place=UNPLACED) for t in stored] == tasks
    assert all(t.place == t.seq for t in stored)  # no fairness: the place is the seq
    for task in stored:
        assert await backend.task_get(task.id) == task


async def test_values_equal_in_python_but_not_as_json_each_come_back_as_given(
    backend: Backend,
) -> None:
    """1, 1.0 and True are equal in Python; stored JSON keeps them apart. A batch large
    enough for COPY, every other column shared, so only the retry policy differs."""
    delays: list[object] = [1, 1.0, True]
    tasks = [
        make_task(f"eq{i}").evolve(retry={"strategy": "fixed", "delay": delays[i % 3]})
        for i in range(60)
    ]

    await backend.task_insert_many(tasks)

    for task in tasks:
        got = await backend.task_get(task.id)
        assert got is not None
        as_json = functools.partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
        assert as_json(got.retry) == as_json(task.retry), task.id


@pytest.fixture
async def mixed(backend: Backend) -> Backend:
    """Tasks across queues, kinds, tenants, a job and states."""
    await insert(
        backend,
        make_task("a1", queue="a", kind="x", tenant="t1", priority=90),
        make_task("a2", queue="a", kind="y", tenant="t2"),
        make_task("b1", queue="b", kind="x"),
        make_task("b2", queue="b", kind="y", tenant="t1"),
        make_task("s1", queue="b", kind="x", run_at=at(60)),
    )
    await backend.task_insert_many(
        [
            make_task("j1", queue="a", kind="x", tenant="t1", job_id="job-7"),
            make_task("j2", queue="c", kind="y", tenant="t2", job_id="job-7"),
        ],
        Job("job-7", "pair", T0),
    )
    (running,) = await claim(backend, queues=["a"])
    assert running.id == "a1"
    return backend


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (TaskFilter(), {"a1", "a2", "b1", "b2", "s1", "j1", "j2"}),
        (TaskFilter(queue="a"), {"a1", "a2", "j1"}),
        (TaskFilter(queue="c"), {"j2"}),
        (TaskFilter(queue="nope"), set()),
        (TaskFilter(state=S.QUEUED), {"a2", "b1", "b2", "j1", "j2"}),
        (TaskFilter(state=S.RUNNING), {"a1"}),
        (TaskFilter(state=S.SCHEDULED), {"s1"}),
        (TaskFilter(state=S.FAILED), set()),
        (TaskFilter(kind="x"), {"a1", "b1", "s1", "j1"}),
        (TaskFilter(kind="y"), {"a2", "b2", "j2"}),
        (TaskFilter(tenant="t1"), {"a1", "b2", "j1"}),
        (TaskFilter(tenant="t2"), {"a2", "j2"}),
        (TaskFilter(job_id="job-7"), {"j1", "j2"}),
        (TaskFilter(job_id="job-8"), set()),
        (TaskFilter(queue="a", kind="x", state=S.QUEUED), {"j1"}),
        (TaskFilter(queue="b", tenant="t1", kind="y"), {"b2"}),
    ],
    ids=lambda v: repr(v) if isinstance(v, TaskFilter) else None,
)
async def test_list_filters(mixed: Backend, filter: TaskFilter, expected: set[str]) -> None:
    rows = await mixed.task_list(filter, after_seq=None, limit=100)
    assert {t.id for t in rows} == expected
    assert len(rows) == len(expected)
    assert [t.seq for t in rows] == sorted((t.seq for t in rows), reverse=True)


async def pages(backend: Backend, filter: TaskFilter, size: int) -> list[list[Task]]:
    out: list[list[Task]] = []
    cursor: int | None = None
    while page := await backend.task_list(filter, after_seq=cursor, limit=size):
        assert len(page) <= size
        out.append(page)
        cursor = page[-1].seq
        assert len(out) < 100, "pagination does not end"
    return out


@pytest.mark.parametrize("size", [1, 7, 25, 26])
async def test_cursor_pages_are_disjoint_newest_first_and_cover_all(
    backend: Backend, size: int
) -> None:
    inserted: list[Task] = []
    for batch in range(5):  # several inserts, so seq spans calls
        inserted += await insert(
            backend,
            *(
                make_task(
                    f"t{batch}-{i}", queue="qa" if i % 2 else "qb", priority=(0, 100, 37)[i % 3]
                )
                for i in range(5)
            ),
        )

    got = await pages(backend, TaskFilter(), size)

    flat = [t.id for page in got for t in page]
    assert len(flat) == len(set(flat)) == 25  # disjoint, nothing missing
    assert flat == [t.id for t in reversed(inserted)]  # newest first, across pages
    assert [len(p) for p in got[:-1]] == [size] * (len(got) - 1)

    only_qa = [t.id for page in await pages(backend, TaskFilter(queue="qa"), 3) for t in page]
    assert only_qa == [t.id for t in reversed(inserted) if t.queue == "qa"]
    queued = [t.id for page in await pages(backend, TaskFilter(state=S.QUEUED), size) for t in page]
    assert queued == flat  # every queue's queued rows, merged
    queued_qb = TaskFilter(queue="qb", state=S.QUEUED)
    only_qb = [t.id for page in await pages(backend, queued_qb, 2) for t in page]
    assert only_qb == [t.id for t in reversed(inserted) if t.queue == "qb"]


@pytest.mark.parametrize("size", [1, 4, 5])
async def test_pages_over_every_state_merge_running_tasks_in_place(
    backend: Backend, size: int
) -> None:
    inserted = await insert(backend, *(make_task(f"t{i}", priority=i % 3) for i in range(12)))
    claimed = await claim(backend, limit=5)  # the highest priorities
    done = claimed[:2]
    await backend.task_finish_many(
        [make_finish(t.id, t.lease_token, S.SUCCEEDED, now=T0) for t in done], now=T0
    )
    running = {t.id for t in claimed[2:]}

    got = [t for page in await pages(backend, TaskFilter(), size) for t in page]

    assert [t.id for t in got] == [t.id for t in reversed(inserted)]
    assert {t.id for t in got if t.state == S.RUNNING} == running
    assert {t.id for t in got if t.state == S.SUCCEEDED} == {t.id for t in done}
    queued = [t.id for page in await pages(backend, TaskFilter(state=S.QUEUED), size) for t in page]
    assert queued == [
        t.id for t in reversed(inserted) if t.id not in running | {d.id for d in done}
    ]


async def test_list_respects_limit(backend: Backend) -> None:
    await insert(backend, *(make_task(f"t{i}") for i in range(10)))
    rows = await backend.task_list(TaskFilter(), after_seq=None, limit=4)
    assert [t.id for t in rows] == ["t9", "t8", "t7", "t6"]
