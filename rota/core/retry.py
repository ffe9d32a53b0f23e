"""Retry policy: how long to wait before the next attempt, and which errors deserve one.

A task may carry its own policy; otherwise its queue's (``ROTA_QUEUE_RETRY``), otherwise the
deployment default (``ROTA_RETRY_BACKOFF`` doubling up to ``ROTA_RETRY_BACKOFF_MAX``). The
first run counts as an attempt: ``max_attempts=3`` means one run and two retries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from rota.core.errors import ValidationError

Backoff = Literal["exponential", "fixed", "list"]
MAX_DELAY = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff: Backoff = "exponential"
    #: the first delay (exponential) or every delay (fixed), in seconds
    delay: float = 1.0
    #: cap for exponential delays
    max_delay: float = 300.0
    #: exponential only: each delay is drawn uniformly from [delay/2, delay]
    jitter: bool = False
    #: list only: delay before retry n is delays[n-1] (the last one repeats)
    delays: tuple[float, ...] = ()
    #: retry only failures whose kind (exception class name) is listed; None = all
    retry_on: tuple[str, ...] | None = None

    def seconds(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt number ``attempt`` (1-based)."""
        if self.backoff == "fixed":
            return self.delay
        if self.backoff == "list":
            return self.delays[min(attempt, len(self.delays)) - 1]
        value = min(self.delay * 2 ** max(attempt - 1, 0), self.max_delay)
        if self.jitter:
            value = (rng or random).uniform(value / 2, value)
        return float(value)

    def retries(self, kind: str | None) -> bool:
        return self.retry_on is None or (kind is not None and kind in self.retry_on)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backoff": self.backoff,
            "delay": self.delay,
            "max_delay": self.max_delay,
            "jitter": self.jitter,
        }
        if self.delays:
            out["delays"] = list(self.delays)
        if self.retry_on is not None:
            out["retry_on"] = list(self.retry_on)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryPolicy:
        """Build and check a policy; unknown keys and bad values are a ValidationError."""
        known = {"backoff", "delay", "max_delay", "jitter", "delays", "retry_on"}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(f"retry: unknown field(s) {sorted(unknown)}; use {sorted(known)}")
        backoff = data.get("backoff", "exponential")
        if backoff not in ("exponential", "fixed", "list"):
            raise ValidationError("retry.backoff must be 'exponential', 'fixed' or 'list'")
        delays = tuple(float(d) for d in data.get("delays", ()))
        if backoff == "list" and not delays:
            raise ValidationError("retry.backoff 'list' needs retry.delays, e.g. [1, 10, 60]")
        numbers = [float(data.get("delay", 1.0)), float(data.get("max_delay", 300.0)), *delays]
        if any(not 0 <= n <= MAX_DELAY for n in numbers):
            raise ValidationError(f"retry delays must be between 0 and {MAX_DELAY:.0f} seconds")
        retry_on = data.get("retry_on")
        if retry_on is not None and (
            not isinstance(retry_on, list) or not all(isinstance(k, str) for k in retry_on)
        ):
            raise ValidationError("retry.retry_on must be a list of error kinds (class names)")
        return cls(
            backoff=backoff,
            delay=numbers[0],
            max_delay=numbers[1],
            jitter=bool(data.get("jitter", False)),
            delays=delays,
            retry_on=None if retry_on is None else tuple(retry_on),
        )
