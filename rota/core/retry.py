"""Retry policy: how long to wait before the next attempt, and which errors deserve one.

A task may carry its own policy; otherwise its queue's (``ROTA_QUEUE_RETRY``), otherwise the
deployment default (``ROTA_RETRY_BACKOFF`` doubling up to ``ROTA_RETRY_BACKOFF_MAX``). The
first run counts as an attempt: ``max_attempts=3`` means one run and two retries.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from rota.core.errors import ValidationError
from rota.core.ids import quote

Backoff = Literal["exponential", "fixed", "list"]
MAX_DELAY = 7 * 24 * 3600.0
#: at most this many entries in ``delays`` and in ``retry_on``
MAX_DELAYS = 100
#: an error kind: an exception class name, dotted module path allowed
_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}")


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
    def from_json(cls, data: Any) -> RetryPolicy:
        """Build and check a policy; unknown keys and bad values are a ValidationError."""
        if not isinstance(data, dict):
            raise ValidationError('retry must be a JSON object, e.g. {"delay": 5}')
        known = {"backoff", "delay", "max_delay", "jitter", "delays", "retry_on"}
        unknown = set(data) - known
        if unknown:
            names = sorted(quote(k) for k in unknown)[:5]
            raise ValidationError(f"retry: unknown field(s) {names}; use {sorted(known)}")
        backoff = data.get("backoff", "exponential")
        if backoff not in ("exponential", "fixed", "list"):
            raise ValidationError("retry.backoff must be 'exponential', 'fixed' or 'list'")
        delays_given = data.get("delays", [])
        if not isinstance(delays_given, list) or len(delays_given) > MAX_DELAYS:
            raise ValidationError(f"retry.delays must be a list of at most {MAX_DELAYS} numbers")
        delays = tuple(_seconds(d, "retry.delays[]") for d in delays_given)
        if backoff == "list" and not delays:
            raise ValidationError("retry.backoff 'list' needs retry.delays, e.g. [1, 10, 60]")
        jitter = data.get("jitter", False)
        if not isinstance(jitter, bool):
            raise ValidationError("retry.jitter must be true or false")
        retry_on = data.get("retry_on")
        if retry_on is not None and (
            not isinstance(retry_on, list)
            or len(retry_on) > MAX_DELAYS
            or not all(isinstance(k, str) and _KIND.fullmatch(k) for k in retry_on)
        ):
            raise ValidationError(
                f"retry.retry_on must be a list of at most {MAX_DELAYS} error kinds "
                "(exception class names such as TimeoutError or mod.Error)"
            )
        return cls(
            backoff=backoff,
            delay=_seconds(data.get("delay", 1.0), "retry.delay"),
            max_delay=_seconds(data.get("max_delay", 300.0), "retry.max_delay"),
            jitter=jitter,
            delays=delays,
            retry_on=None if retry_on is None else tuple(retry_on),
        )


def _seconds(value: Any, what: str) -> float:
    # bool is an int to Python, never a number of seconds to a caller
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be a number of seconds, not {quote(value)}")
    if not 0 <= value <= MAX_DELAY:  # NaN fails this too
        raise ValidationError(f"retry delays must be between 0 and {MAX_DELAY:.0f} seconds")
    return float(value)
