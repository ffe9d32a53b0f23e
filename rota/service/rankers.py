"""Rankers: a task's priority computed, by a named function, at submit and at each of a
schedule's occurrences, from the task and the history of its schedule.

A ranker takes a :class:`RankContext` and answers a priority (0..100, higher first), a
``(priority, rank)`` pair (the rank orders the task within its priority, lower first: see
``TaskSpec.rank``), or None: do not queue this one (a repeat inside a grace period). Four
are built in, after KAT's scheduler; more are registered by name, on a worker's
``Registry`` (``@registry.ranker("name")``), and loaded into the server with ``rota serve
--app module:registry`` as handlers are loaded into workers. A submit or a schedule's
template names one with ``"ranker": {"name": ..., <its parameters>}`` instead of a priority.

- ``time``: the sooner a task is due, the higher: ``high`` when due now, falling linearly
  to ``low`` for a task due ``window`` seconds (default 3,600) or more ahead.
- ``decay`` (KAT's boefje ranker in rota's numbers): a task never run gets ``never``
  (default 100); within ``grace`` seconds (default a day) of the last run a repeat is not
  queued; after that its
  priority rises linearly from ``low`` (1) to ``high`` (100) over ``window`` seconds
  (default seven days) since the last run: the longer since, the sooner. (KAT counts the
  other way, lower first: from 1,000 down to 3.)
- ``kat_boefje``: KAT's boefje ranker as KAT means it, in KAT's numbers (lower first): never
  run, 2; within ``grace`` seconds (default a day) of the last run, not queued; then, t
  seconds after the grace period ended, ``int(3 + 997 * (1 - t / window))`` while t <
  ``window`` (default seven days), 3 from then on. (KAT's own code reads t with
  ``timedelta.seconds``, the seconds within a day, so its values only cycle between 857 and
  1,000; this is the formula it intends.)
- ``kat_normalizer``: KAT's normalizer ranker, older raw data first: the Unix time (whole
  seconds) of the payload's ``raw_data.boefje_meta.ended_at`` (ISO 8601; no offset means
  UTC), else of the task's due time.

A KAT priority p stands in rota as :func:`kat_priority` says: priority 100 (admitted past a
full queue) for p = 1, KAT's "asked for by a user"; priority 50 otherwise; rank p.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rota.core.errors import BadRequest, RotaError, ValidationError
from rota.core.ids import quote
from rota.core.limits import MAX_RANK
from rota.core.priority import NAMED_PRIORITIES, PRIORITY_MAX, PRIORITY_MIN
from rota.core.queues import BYPASS_PRIORITY


@dataclass(frozen=True, slots=True)
class RankContext:
    kind: str
    queue: str
    payload: Mapping[str, Any]
    tenant: str | None
    now: datetime
    #: when the task is due (its occurrence's time, or its run_at)
    due: datetime
    #: the last run of its schedule (None: never, or not from a schedule)
    last_run_at: datetime | None
    #: the ranker's parameters, as the submit or the template gave them
    params: Mapping[str, Any] = field(default_factory=dict)


#: a priority, a (priority, rank) pair, or None: not queued
Ranked = int | tuple[int, float] | None
Ranker = Callable[[RankContext], Ranked]

#: the rota priority of every KAT priority but 1
KAT_PRIORITY = NAMED_PRIORITIES["mid"]


def _number(params: Mapping[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError(f"ranker parameter {name!r} must be a number >= 0")
    return float(value)


def _priority(value: float) -> int:
    return max(PRIORITY_MIN, min(PRIORITY_MAX, round(value)))


def time_ranker(ctx: RankContext) -> int:
    high, low = _number(ctx.params, "high", 100), _number(ctx.params, "low", 0)
    window = _number(ctx.params, "window", 3600) or 1.0
    ahead = max(0.0, (ctx.due - ctx.now).total_seconds())
    return _priority(high - (high - low) * min(1.0, ahead / window))


def decay_ranker(ctx: RankContext) -> int | None:
    if ctx.last_run_at is None:
        return _priority(_number(ctx.params, "never", 100))
    since = (ctx.now - ctx.last_run_at).total_seconds()
    if since < _number(ctx.params, "grace", 86_400):
        return None
    high, low = _number(ctx.params, "high", 100), _number(ctx.params, "low", 1)
    window = _number(ctx.params, "window", 7 * 86_400) or 1.0
    return _priority(low + (high - low) * min(1.0, since / window))


def kat_priority(p: int) -> tuple[int, float]:
    """A KAT priority (lower first; 1: asked for by a user) as rota's (priority, rank)."""
    return (BYPASS_PRIORITY if p == 1 else KAT_PRIORITY), float(p)


def kat_boefje(ctx: RankContext) -> tuple[int, float] | None:
    if ctx.last_run_at is None:
        return kat_priority(2)
    grace = _number(ctx.params, "grace", 86_400)
    window = _number(ctx.params, "window", 7 * 86_400) or 1.0
    t = (ctx.now - ctx.last_run_at).total_seconds() - grace
    if t < 0:
        return None
    return kat_priority(int(3 + 997 * (1 - t / window)) if t < window else 3)


def kat_normalizer(ctx: RankContext) -> tuple[int, float]:
    ended = _ended_at(ctx.payload)
    at = ctx.due if ended is None else ended
    # 2 at least: a raw file of 1970 is no user's request (1), and a rank is never negative
    return kat_priority(min(max(int(at.timestamp()), 2), MAX_RANK - 1))


def _ended_at(payload: Mapping[str, Any]) -> datetime | None:
    """``raw_data.boefje_meta.ended_at`` as a time, or None when missing or malformed."""
    found: Any = payload
    for name in ("raw_data", "boefje_meta", "ended_at"):
        if not isinstance(found, Mapping):
            return None
        found = found.get(name)
    if not isinstance(found, str):
        return None
    try:
        at = datetime.fromisoformat(found)
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class Rankers:
    """The rankers a server knows, by name: the built-in ones and those of ``--app``."""

    def __init__(self) -> None:
        self._by_name: dict[str, Ranker] = {
            "time": time_ranker,
            "decay": decay_ranker,
            "kat_boefje": kat_boefje,
            "kat_normalizer": kat_normalizer,
        }

    def add(self, name: str, ranker: Ranker) -> None:
        if name in self._by_name:
            raise ValidationError(f"a ranker named {name!r} is registered already")
        self._by_name[name] = ranker

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def rank(self, spec: Mapping[str, Any], ctx: RankContext) -> tuple[int, float | None] | None:
        """The priority and rank (None: none given) ``spec`` (``{"name": ..., params}``)
        gives, or None (not queued). The rank's bounds are the submit's (TaskSpec.rank)."""
        name = spec.get("name")
        ranker = self._by_name.get(name) if isinstance(name, str) else None
        if ranker is None:
            raise BadRequest(f"ranker: unknown name {quote(name)}; known: {self.names()}")
        params = {k: v for k, v in spec.items() if k != "name"}
        try:
            value = ranker(RankContext(**{**_fields(ctx), "params": params}))
        except RotaError:
            raise
        except Exception as exc:
            raise ValidationError(
                f"ranker {name!r} failed on this task: {quote(exc, 80)}"
            ) from None
        if value is None:
            return None
        rank: Any = None
        if isinstance(value, tuple) and len(value) == 2:
            value, rank = value
            if isinstance(rank, bool) or not isinstance(rank, int | float):
                raise ValidationError(f"ranker {name!r} answered rank {rank!r}, not a number")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"ranker {name!r} answered {value!r}, not a priority")
        return _priority(value), None if rank is None else float(rank)


def _fields(ctx: RankContext) -> dict[str, Any]:
    return {name: getattr(ctx, name) for name in RankContext.__slots__}
