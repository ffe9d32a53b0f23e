"""A queue's settings: what its submits may hold and in which order its tasks start.

Every field has a default that keeps a queue as it was before settings existed (no size
limit, strict priority and enqueue order, no aging), so a queue nobody configured behaves
the same on every store. The service reads them (:mod:`rota.service.queues`); the policies
they name live in :mod:`rota.core.fairness` and :mod:`rota.core.aging`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rota.core.admission import QueueLimit
from rota.core.dedup import RULES, Rule
from rota.core.errors import ValidationError
from rota.core.limits import MAX_ATTEMPTS, MAX_TIMEOUT_SECONDS
from rota.core.priority import PRIORITY_MAX, PRIORITY_MIN
from rota.core.retry import RetryPolicy

Fairness = Literal["off", "round_robin", "weighted"]

#: the priority that is admitted past a full queue (KAT lets its top priority through)
BYPASS_PRIORITY = PRIORITY_MAX
#: the largest max_size, weight, and number of weights a queue may name
MAX_SIZE_LIMIT = 100_000_000
MAX_WEIGHT = 1000
MAX_WEIGHTS = 10_000
#: the largest concurrency limit, and the slowest and fastest rate limit (starts a second)
MAX_CONCURRENCY = 1_000_000
MIN_RATE, MAX_RATE = 0.001, 1_000_000.0
#: the longest timeout and retention a queue may set, seconds
MAX_SECONDS = 366 * 86_400
#: aging: the fastest and slowest rate, priority points per minute of waiting
MIN_AGING_RATE, MAX_AGING_RATE = 0.01, 600.0


@dataclass(frozen=True, slots=True)
class Aging:
    """Effective priority rises by one point for every ``60 / rate`` seconds a task waits
    ready, up to ``cap`` (a task already at or above ``cap`` is not raised)."""

    rate: float
    cap: int = PRIORITY_MAX

    @property
    def step_seconds(self) -> float:
        return 60.0 / self.rate


@dataclass(frozen=True, slots=True)
class QueueSettings:
    #: waiting (queued and scheduled) tasks past which a submit is refused (429)
    max_size: int | None = None
    fairness: Fairness = "off"
    #: fairness key -> weight (``weighted``); a key not named weighs 1
    weights: dict[str, int] = field(default_factory=dict)
    aging: Aging | None = None
    #: what a submit whose unique key is held meets, unless it says (rota.core.dedup)
    on_conflict: Rule = "reject"
    #: running tasks of the queue across every worker; of one tenant in it; starts a second
    concurrency_limit: int | None = None
    tenant_concurrency_limit: int | None = None
    rate_limit: float | None = None
    #: defaults for the queue's tasks: attempts, retry policy (RetryPolicy's JSON), timeout
    #: (seconds), retention (seconds)
    max_attempts: int | None = None
    retry: dict[str, Any] | None = None
    timeout: float | None = None
    retention: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueSettings:
        """Checked whole: a bad value raises ValidationError naming the field."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValidationError(f"unknown queue settings {sorted(unknown)}")
        aging = data.get("aging")
        made = cls(**{**data, "aging": None if aging is None else _aging(aging)})
        made._check()
        return made

    def limit(self, queue: str) -> QueueLimit | None:
        """The queue's global limits for a claim, or None when it has none."""
        if (self.concurrency_limit, self.tenant_concurrency_limit, self.rate_limit) == (
            None, None, None,
        ):  # fmt: skip
            return None
        return QueueLimit(
            queue, self.concurrency_limit, self.tenant_concurrency_limit, self.rate_limit
        )

    def weight(self, key: str) -> int:
        return self.weights.get(key, 1) if self.fairness == "weighted" else 1

    def _check(self) -> None:
        if self.max_size is not None and not 0 <= self.max_size <= MAX_SIZE_LIMIT:
            raise ValidationError(f"max_size must be 0..{MAX_SIZE_LIMIT}, or null for none")
        for name in ("concurrency_limit", "tenant_concurrency_limit"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_CONCURRENCY:
                raise ValidationError(f"{name} must be 1..{MAX_CONCURRENCY}, or null for none")
        if self.rate_limit is not None and not MIN_RATE <= self.rate_limit <= MAX_RATE:
            raise ValidationError(f"rate_limit must be {MIN_RATE}..{MAX_RATE} tasks a second")
        if self.on_conflict not in RULES:
            raise ValidationError(f"on_conflict must be one of {', '.join(RULES)}")
        if self.fairness not in ("off", "round_robin", "weighted"):
            raise ValidationError("fairness must be off, round_robin or weighted")
        if len(self.weights) > MAX_WEIGHTS:
            raise ValidationError(f"weights: at most {MAX_WEIGHTS} keys")
        for key, weight in self.weights.items():
            if type(weight) is not int or not 1 <= weight <= MAX_WEIGHT:
                raise ValidationError(f"weights[{key!r}] must be an integer 1..{MAX_WEIGHT}")
        if self.retry is not None:
            RetryPolicy.from_json(self.retry)  # a bad policy says what to fix
        if self.max_attempts is not None and not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ValidationError(f"max_attempts must be 1..{MAX_ATTEMPTS}")
        for name, top in (("timeout", MAX_TIMEOUT_SECONDS), ("retention", MAX_SECONDS)):
            value = getattr(self, name)
            if value is not None and not 0 < value <= top:
                raise ValidationError(f"{name} must be in (0, {top:g}] seconds")


def _aging(data: Any) -> Aging:
    if not isinstance(data, dict) or set(data) - {"rate", "cap"} or "rate" not in data:
        raise ValidationError('aging must be {"rate": points per minute, "cap": priority}')
    rate, cap = data["rate"], data.get("cap", PRIORITY_MAX)
    if not isinstance(rate, int | float) or not MIN_AGING_RATE <= rate <= MAX_AGING_RATE:
        raise ValidationError(f"aging.rate must be {MIN_AGING_RATE}..{MAX_AGING_RATE} per minute")
    if type(cap) is not int or not PRIORITY_MIN <= cap <= PRIORITY_MAX:
        raise ValidationError(f"aging.cap must be an integer {PRIORITY_MIN}..{PRIORITY_MAX}")
    return Aging(float(rate), cap)
