"""The transition table of DESIGN.md, edge by edge."""

from __future__ import annotations

import itertools

import pytest

from rota.core.errors import Conflict, IllegalTransition
from rota.core.states import (
    ACTIVE_STATES,
    FINAL_STATES,
    TRANSITIONS,
    WAITING_STATES,
    TaskState,
    can_transition,
    check_transition,
)

S = TaskState

#: Written out from the diagram in DESIGN.md ("States"), independently of the table.
LEGAL = {
    (S.SCHEDULED, S.QUEUED),  # run_at reached
    (S.QUEUED, S.RUNNING),  # claim
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.SCHEDULED),  # failure or expired lease, attempts left, with backoff
    (S.RUNNING, S.QUEUED),  # ... without backoff
    (S.RUNNING, S.FAILED),  # no attempts left: dead letter
    (S.QUEUED, S.CANCELED),
    (S.SCHEDULED, S.CANCELED),
    (S.RUNNING, S.CANCELED),  # a requested cancel, acknowledged
    (S.FAILED, S.QUEUED),  # operator retry
    (S.CANCELED, S.QUEUED),
}
ALL_PAIRS = list(itertools.product(S, S))


def test_the_table_is_exactly_the_design() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("source", "target"), sorted(LEGAL))
def test_legal_edges(source: TaskState, target: TaskState) -> None:
    assert can_transition(source, target)
    check_transition(source, target)  # does not raise


@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair not in LEGAL])
def test_illegal_edges_raise(source: TaskState, target: TaskState) -> None:
    assert not can_transition(source, target)
    with pytest.raises(IllegalTransition) as caught:
        check_transition(source, target)
    assert source.value in str(caught.value)
    assert target.value in str(caught.value)
    assert isinstance(caught.value, Conflict)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.RUNNING, S.RUNNING),  # a heartbeat is not a transition
        (S.SUCCEEDED, S.QUEUED),  # success is final, even for an operator
        (S.SUCCEEDED, S.FAILED),
        (S.QUEUED, S.SUCCEEDED),  # nothing finishes without running
        (S.SCHEDULED, S.RUNNING),  # promotion comes first
        (S.FAILED, S.RUNNING),
        (S.CANCELED, S.SCHEDULED),
    ],
)
def test_notable_illegal_edges(source: TaskState, target: TaskState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(source, target)


def test_state_groups() -> None:
    assert {S.SCHEDULED, S.QUEUED} == WAITING_STATES
    assert WAITING_STATES | {S.RUNNING} == ACTIVE_STATES
    assert {S.SUCCEEDED, S.FAILED, S.CANCELED} == FINAL_STATES
    assert ACTIVE_STATES.isdisjoint(FINAL_STATES)
    assert set(S) == ACTIVE_STATES | FINAL_STATES
    for state in FINAL_STATES:  # a final state only ever goes back to the queue
        assert TRANSITIONS[state] <= {S.QUEUED}


def test_states_are_their_wire_names() -> None:
    assert [s.value for s in S] == [
        "scheduled",
        "queued",
        "running",
        "succeeded",
        "failed",
        "canceled",
    ]
    assert S("queued") is S.QUEUED
