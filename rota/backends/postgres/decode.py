"""Task rows as PostgreSQL returns them (TASK_COLUMNS, in the order of Task's fields),
made into Tasks, the ordering contract read off them, and the small conversions the
backend's verbs share (a stored task's seq, JSON text)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from rota.core.models import Finish, Task
from rota.core.states import TaskState

FIELDS = Task._fields
STATE = FIELDS.index("state")
SEQ = FIELDS.index("seq")
PRIORITY = FIELDS.index("priority")
PLACE = FIELDS.index("place")
REQUIRES = FIELDS.index("requires")
assert REQUIRES == len(FIELDS) - 1 == PLACE + 1, "place and requires end a task"
state_of = operator.attrgetter("state")  # of a Task or a Finish

STATES = {state.value: state for state in TaskState}  # a dict lookup beats Enum()
TEXT = {state: state.value for state in TaskState}  # and beats .value


def to_task(row: tuple[Any, ...]) -> Task:
    # Tuples joined with + rather than unpacked into a new one: twice as fast, and it runs
    # once per claimed or listed row.
    needs = row[REQUIRES]
    head = row[:STATE] + (STATES[row[STATE]],) + row[STATE + 1 : REQUIRES]  # noqa: RUF005
    return tuple.__new__(Task, head + (() if needs is None else tuple(needs),))  # noqa: RUF005


def contract_order(row: Sequence[Any]) -> tuple[int, float, int]:
    return -row[PRIORITY], row[PLACE], row[SEQ]


def in_order(rows: list[Any]) -> list[Task]:
    """Claimed rows (which come back in no particular order) as Tasks, in contract order."""
    rows.sort(key=contract_order)
    return [to_task(r) for r in rows]


def with_seq(task: Task, seq: int) -> Task:
    """``task.evolve(seq=seq)``, and its seq as its place unless fairness gave it one;
    several times faster (it runs once per inserted row)."""
    place = task.place
    if place < 0:
        place = float(seq)
    return tuple.__new__(
        Task, (*task[:SEQ], seq, *task[SEQ + 1 : PLACE], place, task[REQUIRES])
    )  # (trace sits before place: it is kept)


def any_scheduled(items: Iterable[Task] | Iterable[Finish]) -> bool:
    # A set of the states, not any(t.state == TaskState.SCHEDULED ...): looking an Enum
    # member up costs 150 ns, a quarter of a millisecond per batch of 1,000.
    return TaskState.SCHEDULED in set(map(state_of, items))


def json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
