"""Priorities: bounded integers, higher runs first, with three named aliases.

The range is small and fixed so that every backend can index it exactly (Redis scores,
SQL columns) and so that operators can reason about it. DMS's ``high``/``mid``/``low``
are aliases for fixed points inside it; the default is ``low``.
"""

from __future__ import annotations

from rota.core.errors import ValidationError
from rota.core.ids import quote

PRIORITY_MIN = 0
PRIORITY_MAX = 100

NAMED_PRIORITIES: dict[str, int] = {"low": 20, "mid": 50, "high": 80}
DEFAULT_PRIORITY = NAMED_PRIORITIES["low"]

PriorityInput = int | str

_RANGE = (
    f"use an integer {PRIORITY_MIN}..{PRIORITY_MAX} (higher runs first) or one of "
    + ", ".join(f"{name!r} ({number})" for name, number in NAMED_PRIORITIES.items())
)


def resolve_priority(value: PriorityInput | None) -> int:
    """Turn a name or an integer into a checked integer priority."""
    if type(value) is int and PRIORITY_MIN <= value <= PRIORITY_MAX:
        return value  # the common case first: once per task of every batch
    if value is None:
        return DEFAULT_PRIORITY
    if isinstance(value, str):
        # names exactly as documented: no case folding, no numbers in strings
        if value in NAMED_PRIORITIES:
            return NAMED_PRIORITIES[value]
        raise ValidationError(f"unknown priority {quote(value)}: {_RANGE}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"priority {quote(value)} is not an integer: {_RANGE}")
    if not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise ValidationError(f"priority {value} is out of range: {_RANGE}")
    return value


def priority_name(value: int) -> str | None:
    for name, number in NAMED_PRIORITIES.items():
        if number == value:
            return name
    return None
