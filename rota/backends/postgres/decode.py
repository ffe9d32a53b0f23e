"""Task rows as PostgreSQL returns them (TASK_COLUMNS, in the order of Task's fields),
made into Tasks, and the ordering contract read off them."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from rota.core.models import Task
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
