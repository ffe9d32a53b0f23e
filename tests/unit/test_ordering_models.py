"""The reference claim order and the derived state of a job."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.core.models import Job, JobSummary, Task, new_task
from rota.core.ordering import claim_key, in_claim_order
from rota.core.states import TaskState

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(task_id: str, priority: int, seq: int) -> Task:
    return Task(task_id, "q", "k", {}, priority, S.QUEUED, T0, T0, seq=seq)


def test_new_task_is_the_task_constructor_with_every_other_field_at_its_default() -> None:
    """new_task builds the tuple by position: a field added or moved must show up here."""
    later = datetime(2026, 1, 2, tzinfo=UTC)
    fields = ("i", "q", "k", {"a": 1}, 7, S.SCHEDULED, later, T0)
    policy = {"strategy": "fixed", "delay": 2.0}

    built = new_task(*fields, 4, 1.5, "t", "j", policy, later)

    assert built == Task(
        *fields, max_attempts=4, timeout=1.5, tenant="t", job_id="j", retry=policy,
        expires_at=later,
    )  # fmt: skip
    assert type(built) is Task


def test_claim_key_ranks_priority_then_seq_then_id() -> None:
    high_late = task("z", 80, 9)
    high_early = task("y", 80, 3)
    low_first = task("a", 20, 1)
    tie_b = task("b", 50, 5)
    tie_a = task("a", 50, 5)  # same seq can only happen across stores: id breaks the tie

    ordered = in_claim_order([low_first, tie_b, high_late, tie_a, high_early])

    assert [(t.id, t.priority, t.seq) for t in ordered] == [
        ("y", 80, 3),
        ("z", 80, 9),
        ("a", 50, 5),
        ("b", 50, 5),
        ("a", 20, 1),
    ]
    assert claim_key(high_early) < claim_key(high_late) < claim_key(tie_a) < claim_key(tie_b)
    assert claim_key(tie_b) < claim_key(low_first)


def test_in_claim_order_does_not_mutate_its_input() -> None:
    tasks = [task("a", 1, 1), task("b", 2, 2)]
    assert [t.id for t in in_claim_order(tasks)] == ["b", "a"]
    assert [t.id for t in tasks] == ["a", "b"]


JOB = Job("j", "batch", T0)


@pytest.mark.parametrize(
    ("counts", "state"),
    [
        ({S.QUEUED: 3}, "queued"),
        ({S.SCHEDULED: 1}, "queued"),
        ({S.SCHEDULED: 1, S.QUEUED: 2}, "queued"),
        ({S.RUNNING: 1}, "running"),
        ({S.RUNNING: 1, S.QUEUED: 5}, "running"),
        ({S.RUNNING: 1, S.FAILED: 5}, "running"),
        ({S.QUEUED: 1, S.SUCCEEDED: 1}, "running"),  # started: some already done
        ({S.SCHEDULED: 1, S.FAILED: 1}, "running"),
        ({S.SUCCEEDED: 4}, "succeeded"),
        ({S.SUCCEEDED: 3, S.FAILED: 1}, "failed"),
        ({S.FAILED: 2}, "failed"),
        ({S.FAILED: 1, S.CANCELED: 1}, "failed"),
        ({S.CANCELED: 2}, "canceled"),
    ],
)
def test_job_state_is_derived_from_its_tasks(counts: dict[TaskState, int], state: str) -> None:
    summary = JobSummary(JOB, counts)
    assert summary.state == state
    assert summary.total == sum(counts.values())


def test_zero_counts_do_not_count() -> None:
    assert JobSummary(JOB, {S.RUNNING: 0, S.QUEUED: 0, S.SUCCEEDED: 2}).state == "succeeded"
    assert JobSummary(JOB, {S.CANCELED: 1, S.FAILED: 0}).state == "canceled"


def test_task_evolve_returns_a_new_frozen_value() -> None:
    original = task("a", 20, 1)
    changed = original.evolve(priority=90)
    assert (original.priority, changed.priority) == (20, 90)
    assert changed.id == original.id
    with pytest.raises(AttributeError):
        original.priority = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"queued": 2}, "queued"),
        ({"queued": 1, "canceled": 1}, "running"),
        ({"scheduled": 1, "succeeded": 1}, "running"),
        ({"running": 1, "queued": 3}, "running"),
        ({"succeeded": 2}, "succeeded"),
        ({"succeeded": 1, "canceled": 1}, "canceled"),
        ({"succeeded": 1, "canceled": 1, "failed": 1}, "failed"),
        ({"canceled": 2}, "canceled"),
    ],
)
def test_job_state_is_derived_worst_outcome_last(counts: dict[str, int], expected: str) -> None:
    summary = JobSummary(
        Job("j", "job", datetime(2026, 1, 1, tzinfo=UTC)),
        {TaskState(k): v for k, v in counts.items()},
    )
    assert summary.state == expected
