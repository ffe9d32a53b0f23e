"""Task states and the transition table of DESIGN.md.

The table is the single source of truth: the service asks :func:`check_transition` before
every change, and the contract suite checks that backends never produce an edge outside it.
"""

from __future__ import annotations

from enum import StrEnum

from rota.core.errors import IllegalTransition


class TaskState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


S = TaskState

#: Every legal edge. ``running -> running`` is absent: a heartbeat is not a transition.
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELED}),
    # running -> scheduled/queued: failure or expired lease with attempts left;
    # running -> canceled: a requested cancel acknowledged by the worker or the sweeper.
    S.RUNNING: frozenset({S.SUCCEEDED, S.SCHEDULED, S.QUEUED, S.FAILED, S.CANCELED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELED: frozenset({S.QUEUED}),
}

ACTIVE_STATES = frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING})
FINAL_STATES = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED})
#: Not yet started: what a cancel ends at once, what a reprioritise or an expiry may touch.
#: The SQL and Lua files receive this set from here (their loader fills ``WAITING_STATES``).
WAITING_STATES = frozenset({S.SCHEDULED, S.QUEUED})
#: What an operator retry may bring back to ``queued``.
RETRYABLE_STATES = frozenset({S.FAILED, S.CANCELED})

#: The history event that records a finished attempt, by the state it ends in.
FINISH_EVENTS: dict[TaskState, str] = {
    S.SUCCEEDED: "succeeded",
    S.FAILED: "failed",
    S.QUEUED: "retry",
    S.SCHEDULED: "retry",
    S.CANCELED: "canceled",
}


def sql_list(states: frozenset[TaskState]) -> str:
    """``('queued', 'scheduled')``: a state set as SQL text, for the query loaders."""
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(states)) + ")"


def can_transition(source: TaskState, target: TaskState) -> bool:
    return target in TRANSITIONS[source]


def check_transition(source: TaskState, target: TaskState) -> None:
    if not can_transition(source, target):
        raise IllegalTransition(f"a {source.value} task cannot become {target.value}")
