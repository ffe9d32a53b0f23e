"""A scheduling simulator: how long tasks wait under each ordering policy, with no I/O.

Its figures are only worth what its ordering is, so it has none of its own: every task is
a real :class:`~rota.core.models.Task` built with :func:`~rota.core.models.new_task`, the
ready task a worker takes is the one with the smallest
:func:`~rota.core.ordering.claim_key`, a fair queue's places come from
:func:`rota.core.fairness.advance` as the store computes them at enqueue, and aging steps
raise priorities with :func:`rota.core.aging.aged` on the leader service's schedule.

What it models: one queue, ``workers`` identical workers that each run one task at a time
and claim the moment they are free, tasks ready from their arrival. What it does not: the
network, claim latency, lease loss, failures and retries, delayed tasks, expiry. See
docs/simulator.md for the documented workload and its report.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rota.core.aging import aged
from rota.core.errors import ValidationError
from rota.core.fairness import NO_KEY, advance, stride
from rota.core.models import Task, new_task
from rota.core.ordering import claim_key
from rota.core.priority import DEFAULT_PRIORITY, resolve_priority
from rota.core.queues import Aging, QueueSettings
from rota.core.states import TaskState

Policy = Literal["fifo", "priority", "aging", "fair"]
POLICIES: tuple[Policy, ...] = ("fifo", "priority", "aging", "fair")
#: the aging policy's default: 12 points a minute (a step every 5 s) up to ``high`` (80), so
#: a ``low`` (20) task stands level with a flood of ``high`` tasks after (80-20+1)*5 = 305 s
DEFAULT_AGING = Aging(rate=12.0, cap=80)
QUEUE = "sim"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One task of a workload: when it becomes ready and how long it runs (seconds)."""

    at: float
    duration: float
    priority: int = DEFAULT_PRIORITY
    tenant: str | None = None
    name: str = ""


def settings_for(policy: Policy, aging: Aging = DEFAULT_AGING) -> QueueSettings:
    """The queue settings a policy stands for (``fifo`` also flattens priorities)."""
    if policy in ("fifo", "priority"):
        return QueueSettings()
    if policy == "aging":
        return QueueSettings(aging=aging)
    if policy == "fair":
        return QueueSettings(fairness="round_robin")
    raise ValidationError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")


@dataclass(frozen=True, slots=True)
class Stats:
    """Waits (start - arrival) and completion times (finish - arrival) of a group."""

    count: int
    mean_wait: float
    p99_wait: float
    max_wait: float
    mean_completion: float


@dataclass(frozen=True, slots=True)
class Report:
    policy: str
    workers: int
    overall: Stats
    #: by the priority each task was submitted with (not the aged one)
    by_class: dict[int, Stats]
    #: by tenant; tasks without one under ``-``
    by_tenant: dict[str, Stats]
    #: the last finish
    makespan: float
    #: indexes into the (time-sorted) arrivals, in the order the tasks started
    order: tuple[int, ...]

    @property
    def mean_completion(self) -> float:
        return self.overall.mean_completion


def p99(values: Sequence[float]) -> float:
    """Nearest-rank: the smallest value with at least 99% of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)), 1) - 1]


def _stats(waits: list[float], completions: list[float]) -> Stats:
    n = len(waits)
    if n == 0:
        return Stats(0, 0.0, 0.0, 0.0, 0.0)
    return Stats(n, sum(waits) / n, p99(waits), max(waits), sum(completions) / n)


def simulate(
    arrivals: Iterable[Arrival],
    policy: Policy,
    workers: int = 4,
    aging: Aging = DEFAULT_AGING,
) -> Report:
    """Run the arrivals to the end under ``policy`` on ``workers`` workers.

    Events at one instant apply in this order: finishes, arrivals (in trace order), an aging
    step, then free workers claim. A trace's tasks are enqueued in arrival order (ties in
    trace order), which is their ``seq``."""
    if workers < 1:
        raise ValidationError("workers must be at least 1")
    settings = settings_for(policy, aging)
    items = sorted(arrivals, key=lambda a: a.at)  # stable: ties keep trace order
    step = settings.aging.step_seconds if settings.aging else math.inf
    tasks: list[Task] = []
    ready: list[tuple[tuple[int, float, int, str], int]] = []  # (claim_key, index)
    running: list[tuple[float, int]] = []  # (finish time, index)
    counters: dict[str, float] = {}
    starts = [0.0] * len(items)
    finishes = [0.0] * len(items)
    order: list[int] = []
    free, nxt, now = workers, 0, 0.0
    next_step = step
    while nxt < len(items) or ready or running:
        upcoming = [items[nxt].at] if nxt < len(items) else []
        upcoming += [running[0][0]] if running else []
        if not ready and settings.aging:  # an idle queue's steps change nothing: skip them
            next_step = max(next_step, math.ceil(min(upcoming) / step) * step)
        now = min([*upcoming, next_step]) if ready else min(upcoming)
        while running and running[0][0] <= now:
            heapq.heappop(running)
            free += 1
        while nxt < len(items) and items[nxt].at <= now:
            task = _enqueue(items[nxt], len(tasks), policy, settings, ready, tasks, counters)
            tasks.append(task)
            heapq.heappush(ready, (claim_key(task), len(tasks) - 1))
            nxt += 1
        if ready and settings.aging and next_step <= now:
            ready = _age(ready, tasks, items, now, settings.aging)
            next_step += step
        while free and ready:
            _, index = heapq.heappop(ready)
            starts[index], finishes[index] = now, now + items[index].duration
            heapq.heappush(running, (finishes[index], index))
            order.append(index)
            free -= 1
    return _report(policy, workers, items, starts, finishes, tuple(order))


def _enqueue(
    arrival: Arrival,
    index: int,
    policy: Policy,
    settings: QueueSettings,
    ready: list[tuple[tuple[int, float, int, str], int]],
    tasks: list[Task],
    counters: dict[str, float],
) -> Task:
    """The task as the store would hold it: seq in arrival order, place from fairness."""
    seq = index + 1
    place = float(seq)
    if settings.fairness != "off":
        key = arrival.tenant or NO_KEY
        amount = stride(settings, key)
        head = tasks[ready[0][1]].place if ready else None
        place = advance(counters, key, amount, head) + amount
    at = _EPOCH + timedelta(seconds=arrival.at)
    priority = DEFAULT_PRIORITY if policy == "fifo" else arrival.priority
    task = new_task(
        f"t{seq:07d}", QUEUE, arrival.name or "sim", {}, priority, TaskState.QUEUED, at, at,
        1, None, arrival.tenant, None, None, None, place,
    )  # fmt: skip
    return task.evolve(seq=seq)


def _age(
    ready: list[tuple[tuple[int, float, int, str], int]],
    tasks: list[Task],
    items: list[Arrival],
    now: float,
    aging: Aging,
) -> list[tuple[tuple[int, float, int, str], int]]:
    """One aging step: every ready task that waited a whole step and stands below the cap
    gains a point; the heap is rebuilt since keys changed."""
    rebuilt = []
    for key, index in ready:
        task = tasks[index]
        if now - items[index].at >= aging.step_seconds and task.priority < aging.cap:
            task = tasks[index] = task.evolve(priority=aged(task.priority, aging))
            key = claim_key(task)
        rebuilt.append((key, index))
    heapq.heapify(rebuilt)
    return rebuilt


def _report(
    policy: str,
    workers: int,
    items: list[Arrival],
    starts: list[float],
    finishes: list[float],
    order: tuple[int, ...],
) -> Report:
    waits = [s - a.at for s, a in zip(starts, items, strict=True)]
    done = [f - a.at for f, a in zip(finishes, items, strict=True)]
    classes: dict[int, list[int]] = {}
    tenants: dict[str, list[int]] = {}
    for i, a in enumerate(items):
        classes.setdefault(a.priority, []).append(i)
        tenants.setdefault(a.tenant or NO_KEY, []).append(i)

    def group(indexes: list[int]) -> Stats:
        return _stats([waits[i] for i in indexes], [done[i] for i in indexes])

    return Report(
        policy=policy,
        workers=workers,
        overall=_stats(waits, done),
        by_class={c: group(classes[c]) for c in sorted(classes, reverse=True)},
        by_tenant={t: group(tenants[t]) for t in sorted(tenants)},
        makespan=max(finishes, default=0.0),
        order=order,
    )


# -- the documented workload ---------------------------------------------------------------

URGENT, BACKGROUND = 80, 20  # ``high`` and ``low``
#: (tenant, urgent tasks per second, background tasks per second), Poisson, over HORIZON
STEADY = (("web", 0.30, 1 / 60), ("mobile", 0.20, 1 / 60), ("ops", 0.10, 1 / 60))
HORIZON = 600.0
#: the flooding tenant: FLOOD_TASKS background tasks at uniform times in [0, FLOOD_SECONDS)
FLOOD_TENANT, FLOOD_TASKS, FLOOD_SECONDS = "bulk", 80, 30.0
URGENT_SECONDS = (0.1, 1.0)  # uniform
BACKGROUND_SECONDS = (5.0, 30.0)  # uniform


def mixed_workload(seed: int = 1) -> list[Arrival]:
    """Short urgent and long background tasks from four tenants, one flooding at the start:
    about 2,200 worker-seconds of work in ten minutes, so four workers are overloaded for
    the first minutes and policies differ. Deterministic for a seed."""
    rng = random.Random(seed)
    out: list[Arrival] = []
    for tenant, urgent_rate, background_rate in STEADY:
        for rate, priority, (low, high), name in (
            (urgent_rate, URGENT, URGENT_SECONDS, "urgent"),
            (background_rate, BACKGROUND, BACKGROUND_SECONDS, "background"),
        ):
            at = rng.expovariate(rate)
            while at < HORIZON:
                out.append(Arrival(at, rng.uniform(low, high), priority, tenant, name))
                at += rng.expovariate(rate)
    for _ in range(FLOOD_TASKS):
        at = rng.uniform(0.0, FLOOD_SECONDS)
        out.append(Arrival(at, rng.uniform(*BACKGROUND_SECONDS), BACKGROUND, FLOOD_TENANT, "bulk"))
    out.sort(key=lambda a: a.at)
    return out


# -- a user's trace ------------------------------------------------------------------------

FIELDS = ("at", "duration", "priority", "tenant", "name")
TraceFormat = Literal["json", "csv"]


def load_trace(text: str, format: TraceFormat) -> list[Arrival]:
    """A trace's arrivals: JSON (a list of objects) or CSV with a header, fields ``at`` and
    ``duration`` (seconds; required), ``priority`` (0..100 or low/mid/high; default low),
    ``tenant`` and ``name``. A bad entry raises ValidationError naming it and its field."""
    if format == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"trace is not JSON: {exc}") from None
        if not isinstance(data, list):
            raise ValidationError("a JSON trace is a list of objects {at, duration, ...}")
        return [_arrival(entry, f"trace[{i}]") for i, entry in enumerate(data)]
    if format == "csv":
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        unknown = [f for f in header if f not in FIELDS]
        if unknown or "at" not in header or "duration" not in header:
            raise ValidationError(
                f"CSV trace header {','.join(header) or '(none)'}: needs at,duration and "
                f"may have priority,tenant,name" + (f"; unknown {unknown}" if unknown else "")
            )
        rows = []
        for row in reader:
            if None in row:
                raise ValidationError(f"line {reader.line_num}: more cells than header fields")
            cells = {k: _cell(k, v) for k, v in row.items() if v not in (None, "")}
            rows.append(_arrival(cells, f"line {reader.line_num}"))
        return rows
    raise ValidationError(f"unknown trace format {format!r}: use json or csv")


def _cell(field: str, value: str) -> Any:
    """A CSV cell as JSON would carry it: numbers for the numeric fields."""
    if field in ("at", "duration"):
        try:
            return float(value)
        except ValueError:
            return value
    if field == "priority" and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _arrival(entry: object, where: str) -> Arrival:
    if not isinstance(entry, Mapping):
        raise ValidationError(f"{where}: must be an object with at and duration")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise ValidationError(f"{where}: unknown field(s) {unknown}; fields are {FIELDS}")
    at, duration = (_seconds(entry, name, where) for name in ("at", "duration"))
    try:
        priority = resolve_priority(entry.get("priority"))
    except ValidationError as exc:
        raise ValidationError(f"{where}.priority: {exc}") from None
    tenant, name = entry.get("tenant"), entry.get("name", "")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise ValidationError(f"{where}.tenant: must be a non-empty string")
    if not isinstance(name, str):
        raise ValidationError(f"{where}.name: must be a string")
    return Arrival(at, duration, priority, tenant, name)


def _seconds(entry: Mapping[str, Any], name: str, where: str) -> float:
    value = entry.get(name)
    if value is None:
        raise ValidationError(f"{where}.{name}: missing (seconds, a number >= 0)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{where}.{name}: {value!r} is not a number of seconds")
    if value < 0:
        raise ValidationError(f"{where}.{name}: {value} is negative")
    return float(value)
