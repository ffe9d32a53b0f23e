"""What a caller may ask for, and the checks that turn a request into a valid task.

The API's pydantic models check types; these checks hold for every entry point
(HTTP, in-process client, CLI), so they live once, here.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from rota.core import limits
from rota.core.dedup import Rule
from rota.core.errors import PayloadTooLarge, ValidationError
from rota.core.ids import check_id, new_id, quote
from rota.core.models import UNPLACED, Job, Task, TaskFilter, new_task
from rota.core.priority import PriorityInput, resolve_priority
from rota.core.retry import RetryPolicy
from rota.core.states import TaskState

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]*")


class UniqueSpec(NamedTuple):
    """A submit's unique key and what to do when an equal task holds it (rota.core.dedup)."""

    #: the caller's key; None: a hash of kind, payload and tenant (``unique: "content"``)
    key: str | None = None
    #: None: the queue's default (``on_conflict`` setting, else reject)
    on_conflict: Rule | None = None
    #: held this many seconds from the submit, whatever the state
    for_seconds: float | None = None
    while_running: bool = False


class TaskSpec(NamedTuple):
    """A request to run ``kind`` with ``payload``; unset fields take the service's defaults.
    (A NamedTuple: batches build a thousand at a time, four times faster than a frozen
    dataclass.)"""

    kind: str
    payload: dict[str, Any] | None = None
    queue: str = "default"
    priority: PriorityInput | None = None
    id: str | None = None
    run_at: datetime | None = None
    delay: float | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    tenant: str | None = None
    retry: dict[str, Any] | None = None
    expires_at: datetime | None = None
    expires_in: float | None = None
    #: the key fairness shares a queue by (default: the tenant)
    fairness_key: str | None = None
    unique: UniqueSpec | None = None
    #: capabilities a worker needs to run it
    requires: tuple[str, ...] | list[str] | None = None
    #: the submit's W3C traceparent (rota.tracing), already checked
    trace: str | None = None
    #: its place in line within its priority: lower first, equal ranks in enqueue order;
    #: without one a task stands at its enqueue order (its seq). Not on a fair queue.
    rank: float | None = None


@functools.lru_cache(maxsize=4096)
def check_name(value: str, what: str) -> str:
    if not value or len(value) > limits.MAX_NAME_LENGTH or not _NAME.fullmatch(value):
        raise ValidationError(
            f"{what} {quote(value)} is invalid: use 1..{limits.MAX_NAME_LENGTH} characters of "
            "letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit"
        )
    return value


def check_filter(filter: TaskFilter) -> TaskFilter:
    """A filter's names are checked as a task's are: a value no task can have is a mistake
    to report (and a lone surrogate one no store can even look up)."""
    for value, what in ((filter.queue, "queue"), (filter.kind, "kind"), (filter.tenant, "tenant")):
        if value is not None:
            check_name(value, what)
    if filter.job_id is not None:
        check_id(filter.job_id, "job id")
    return filter


def _scan(value: Any, what: str, level: int = 1) -> None:
    """Refuse nesting past the limit and numbers JSON cannot carry (NaN, Infinity)."""
    if level > limits.MAX_JSON_DEPTH:
        raise ValidationError(f"{what} nests deeper than {limits.MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                raise ValidationError(f"{what} has a key with a NUL character (\\u0000)")
            _scan(item, what, level + 1)
    elif isinstance(value, list):
        for item in value:
            _scan(item, what, level + 1)
    elif isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL's JSON cannot hold it; refused everywhere so every store agrees.
            raise ValidationError(f"{what} holds a NUL character (\\u0000): remove it")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{what} holds {value}, which is not a JSON number")


def check_json(value: Any, what: str, max_bytes: int) -> Any:
    if value is None:  # the common result of a task: nothing to check
        return value
    _scan(value, what)
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise ValidationError(f"{what} must be JSON: {exc}") from exc
    if size > max_bytes:
        raise PayloadTooLarge(f"{what} is {size} bytes; the limit is {max_bytes} bytes")
    return value


def build_task(
    spec: TaskSpec, *, now: datetime, default_max_attempts: int, job: Job | None = None
) -> Task:
    # Written for speed: it runs once per task of every batch (one unpack of the spec,
    # the task built as a plain tuple in field order).
    (kind, payload, queue, priority, task_id, run_at, delay, max_attempts, timeout, tenant,
     retry, expires_at, expires_in, fairness_key, _, requires, trace, rank) = spec  # fmt: skip
    if payload is None:
        payload = {}
    elif not isinstance(payload, dict):
        raise ValidationError("payload must be a JSON object")
    elif payload:
        check_json(payload, "payload", limits.MAX_PAYLOAD_BYTES)
    state = TaskState.QUEUED
    if run_at is None and delay is None:
        run_at = now
    else:
        run_at = _run_at(run_at, delay, now)
        if run_at > now:
            state = TaskState.SCHEDULED
    if max_attempts is None:
        max_attempts = default_max_attempts
    if not 1 <= max_attempts <= limits.MAX_ATTEMPTS:
        raise ValidationError(f"max_attempts must be 1..{limits.MAX_ATTEMPTS}")
    if timeout is not None and not 0 < timeout <= limits.MAX_TIMEOUT_SECONDS:
        raise ValidationError(f"timeout must be in (0, {limits.MAX_TIMEOUT_SECONDS}] seconds")
    if expires_at is not None or expires_in is not None:
        # an expiry at or before the run time is kept, as Celery keeps it: the task is
        # stored and expires unrun (a schema cannot say "after run_at", so no 422 for it)
        expires_at = _expiry(expires_at, expires_in, now)
    if fairness_key is not None:
        check_name(fairness_key, "fairness_key")
    if tenant is not None:
        tenant = check_name(tenant, "tenant")
    elif job is not None:
        tenant = job.tenant
    return new_task(
        new_id() if task_id is None else check_id(task_id, "task id"),
        check_name(queue, "queue"),
        check_name(kind, "kind"),
        payload,
        resolve_priority(priority),
        state,
        run_at,
        now,
        max_attempts,
        timeout,
        tenant,
        None if job is None else job.id,
        None if retry is None else RetryPolicy.from_json(retry).to_json(),
        expires_at,
        UNPLACED if rank is None else check_rank(rank),
        () if not requires else check_requires(requires),
        trace,
    )


def check_rank(rank: float) -> float:
    """A rank as its place: finite, 0 <= rank < 2^44 (a Redis ready score holds it)."""
    if isinstance(rank, bool) or not isinstance(rank, int | float):
        raise ValidationError("rank must be a number")
    if not (math.isfinite(rank) and 0 <= rank < limits.MAX_RANK):
        raise ValidationError(f"rank must be a finite number, 0 <= rank < 2^44 ({limits.MAX_RANK})")
    return float(rank)


def check_requires(requires: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A task's capabilities, checked as names, each once, sorted (a store compares sets)."""
    if len(requires) > limits.MAX_CAPABILITIES:
        raise ValidationError(f"requires: at most {limits.MAX_CAPABILITIES} capabilities")
    return tuple(sorted({check_name(c, "capability") for c in requires}))


def run_time(run_at: datetime | None, delay: float | None, now: datetime) -> datetime:
    """When a task given ``run_at`` or ``delay`` (one of them) runs: a past time is now."""
    if run_at is None and delay is None:
        raise ValidationError("give run_at or delay")
    return _run_at(run_at, delay, now)


def _run_at(run_at: datetime | None, delay: float | None, now: datetime) -> datetime:
    if run_at is not None:
        if delay is not None:
            raise ValidationError("give run_at or delay, not both")
        if run_at.tzinfo is None:
            raise ValidationError("run_at needs a timezone offset, e.g. 2026-01-01T12:00:00Z")
        return max(_utc(run_at), now)  # before BLOCKED_AT: the calendar's edge is a day short
    assert delay is not None
    if not 0 <= delay <= limits.MAX_DELAY_SECONDS:
        raise ValidationError("delay must be between 0 and one year of seconds")
    return now + timedelta(seconds=delay)


def _expiry(expires_at: datetime | None, expires_in: float | None, now: datetime) -> datetime:
    if expires_at is not None and expires_in is not None:
        raise ValidationError("give expires_at or expires_in, not both")
    if expires_in is not None:
        if not 0 < expires_in <= limits.MAX_DELAY_SECONDS:
            raise ValidationError("expires_in must be between 0 and one year of seconds")
        return now + timedelta(seconds=expires_in)
    assert expires_at is not None
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at needs a timezone offset")
    return _utc(expires_at)


#: where a time past the calendar's edge lands: a day short of its end, so that arithmetic on
#: it cannot overflow
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    """In UTC; a time whose offset carries it past year 9999 (or before year 1) is the
    calendar's edge, which means the same thing for a run time or an expiry."""
    try:
        return min(max(moment.astimezone(UTC), _EARLIEST), _LATEST)
    except OverflowError:
        return _LATEST if moment.year > 1 else _EARLIEST
