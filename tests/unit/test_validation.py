"""build_task: what a request may ask for, and how each mistake is refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from rota.core import limits
from rota.core.errors import PayloadTooLarge, ValidationError
from rota.core.ids import check_id
from rota.core.priority import NAMED_PRIORITIES
from rota.core.states import TaskState
from rota.service.validation import TaskSpec, build_task, check_json, check_name
from tests.unit.helpers import T0

S = TaskState


def build(**fields: Any) -> Any:
    fields.setdefault("kind", "work")
    return build_task(TaskSpec(**fields), now=T0, default_max_attempts=3)


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` levels deep ({} is one level)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_defaults() -> None:
    task = build()
    assert task.queue == "default"
    assert task.kind == "work"
    assert task.payload == {}
    assert task.priority == NAMED_PRIORITIES["low"]
    assert task.state is S.QUEUED
    assert task.run_at == task.created_at == T0
    assert task.max_attempts == 3
    assert task.attempt == 0
    assert task.timeout is None
    assert task.tenant is None
    assert check_id(task.id) == task.id


def test_fields_are_carried() -> None:
    task = build(
        kind="email.send",
        payload={"to": "a@b.c"},
        queue="mail/eu",
        priority="high",
        id="my-task-1",
        max_attempts=5,
        timeout=30.0,
        tenant="acme",
    )
    assert (task.id, task.queue, task.kind, task.tenant) == (
        "my-task-1",
        "mail/eu",
        "email.send",
        "acme",
    )
    assert task.payload == {"to": "a@b.c"}
    assert task.priority == NAMED_PRIORITIES["high"]
    assert (task.max_attempts, task.timeout) == (5, 30.0)


@pytest.mark.parametrize("field", ["kind", "queue", "tenant"])
@pytest.mark.parametrize(
    "value", ["", " ", "-x", "/x", "has space", "a\tb", "x" * (limits.MAX_NAME_LENGTH + 1)]
)
def test_bad_names_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build(**{field: value})
    assert f"1..{limits.MAX_NAME_LENGTH}" in str(caught.value)


@pytest.mark.parametrize("value", ["a", "Z9", "a.b_c:d/e-f", "x" * limits.MAX_NAME_LENGTH])
def test_good_names(value: str) -> None:
    assert check_name(value, "queue") == value
    assert build(queue=value, kind=value, tenant=value).queue == value


def test_bad_client_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="task id"):
        build(id="not an id")


@pytest.mark.parametrize("payload", [[1, 2], "text", 5, True])
def test_payload_must_be_an_object(payload: Any) -> None:
    with pytest.raises(ValidationError, match="payload must be a JSON object"):
        build(payload=payload)


@pytest.mark.parametrize("payload", [{"s": {1, 2}}, {1: "non-string key"}, {"o": object()}])
def test_payload_must_be_json(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="payload must be JSON"):
        build(payload=payload)


def test_payload_size_limit_is_exact() -> None:
    overhead = len('{"x":""}')
    at_limit = {"x": "a" * (limits.MAX_PAYLOAD_BYTES - overhead)}
    assert build(payload=at_limit).payload is at_limit

    with pytest.raises(PayloadTooLarge) as caught:
        build(payload={"x": "a" * (limits.MAX_PAYLOAD_BYTES - overhead + 1)})
    assert isinstance(caught.value, ValidationError)
    assert str(limits.MAX_PAYLOAD_BYTES) in str(caught.value)


def test_payload_size_counts_utf8_bytes() -> None:
    chars = limits.MAX_PAYLOAD_BYTES // 2  # "é" is two bytes
    with pytest.raises(PayloadTooLarge):
        build(payload={"x": "é" * chars})


def test_payload_depth_limit_is_exact() -> None:
    assert build(payload=nested(limits.MAX_JSON_DEPTH)).payload
    with pytest.raises(ValidationError, match=f"deeper than {limits.MAX_JSON_DEPTH}") as caught:
        build(payload=nested(limits.MAX_JSON_DEPTH + 1))
    assert not isinstance(caught.value, PayloadTooLarge)


def test_depth_counts_lists_too() -> None:
    value: Any = 1
    for _ in range(limits.MAX_JSON_DEPTH):
        value = [value]
    with pytest.raises(ValidationError, match="deeper"):
        build(payload={"a": value})


def test_check_json_result_limit() -> None:
    assert check_json({"a": [1, 2]}, "result", 100) == {"a": [1, 2]}
    with pytest.raises(PayloadTooLarge, match="result"):
        check_json("x" * 100, "result", 100)


def test_run_at_without_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        build(run_at=datetime(2026, 1, 2, 12, 0))


def test_run_at_and_delay_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="not both"):
        build(run_at=T0 + timedelta(hours=1), delay=5)


def test_future_run_at_is_scheduled_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    task = build(run_at=datetime(2026, 1, 1, 3, 0, tzinfo=plus_two))  # 01:00 UTC
    assert task.state is S.SCHEDULED
    assert task.run_at == T0 + timedelta(hours=1)
    assert task.run_at.utcoffset() == timedelta(0)


def test_past_run_at_runs_now() -> None:
    task = build(run_at=T0 - timedelta(days=3))
    assert task.state is S.QUEUED
    assert task.run_at == T0


@pytest.mark.parametrize(
    ("delay", "state"), [(0, S.QUEUED), (0.5, S.SCHEDULED), (3600, S.SCHEDULED)]
)
def test_delay(delay: float, state: TaskState) -> None:
    task = build(delay=delay)
    assert task.state is state
    assert task.run_at == T0 + timedelta(seconds=delay)


@pytest.mark.parametrize("delay", [-1, -0.001, 400 * 24 * 3600])
def test_delay_out_of_range(delay: float) -> None:
    with pytest.raises(ValidationError, match="delay"):
        build(delay=delay)


@pytest.mark.parametrize("value", [0, -1, limits.MAX_ATTEMPTS + 1])
def test_max_attempts_range(value: int) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"1..{limits.MAX_ATTEMPTS}")):
        build(max_attempts=value)


@pytest.mark.parametrize("value", [0, -5, limits.MAX_TIMEOUT_SECONDS + 1])
def test_timeout_range(value: float) -> None:
    with pytest.raises(ValidationError, match="timeout"):
        build(timeout=value)


def test_priority_is_resolved() -> None:
    assert build(priority="mid").priority == NAMED_PRIORITIES["mid"]
    assert build(priority=77).priority == 77
    with pytest.raises(ValidationError, match="unknown priority"):
        build(priority="77")  # a number in a string is refused, as documented
    with pytest.raises(ValidationError, match=r"0\.\.100"):
        build(priority=101)


def test_default_max_attempts_comes_from_the_caller() -> None:
    task = build_task(TaskSpec(kind="k"), now=T0, default_max_attempts=9)
    assert task.max_attempts == 9


def test_name_with_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationError):
        check_name("queue\n", "queue")
