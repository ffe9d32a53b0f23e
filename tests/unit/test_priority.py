"""Priority resolution: the three names exactly and integers; everything else refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rota.core.errors import ValidationError
from rota.core.priority import (
    DEFAULT_PRIORITY,
    NAMED_PRIORITIES,
    PRIORITY_MAX,
    PRIORITY_MIN,
    priority_name,
    resolve_priority,
)

RANGE = f"{PRIORITY_MIN}..{PRIORITY_MAX}"
RANGE_RE = re.escape(RANGE)


def test_named_levels_are_ordered_inside_the_range() -> None:
    assert PRIORITY_MIN <= NAMED_PRIORITIES["low"] < NAMED_PRIORITIES["mid"]
    assert NAMED_PRIORITIES["mid"] < NAMED_PRIORITIES["high"] <= PRIORITY_MAX
    assert NAMED_PRIORITIES["low"] == DEFAULT_PRIORITY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, NAMED_PRIORITIES["low"]),
        ("low", NAMED_PRIORITIES["low"]),
        ("mid", NAMED_PRIORITIES["mid"]),
        ("high", NAMED_PRIORITIES["high"]),
        (0, 0),
        (42, 42),
        (100, 100),
    ],
)
def test_resolves(value: Any, expected: int) -> None:
    resolved = resolve_priority(value)
    assert resolved == expected
    assert type(resolved) is int


@pytest.mark.parametrize("value", [-1, 101, 10_000, -100])
def test_out_of_range_is_refused_with_the_range(value: Any) -> None:
    with pytest.raises(ValidationError, match=RANGE_RE):
        resolve_priority(value)


@pytest.mark.parametrize(
    "value",
    ["urgent", "", "1.5", "+5", "0x10", "high!", "HIGH", "  Mid ", "0", "7", " 100 ", "101"],
)
def test_unknown_strings_are_refused_with_the_range_and_names(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_priority(value)
    message = str(caught.value)
    assert RANGE in message
    assert "'high'" in message
    assert "'low'" in message


@pytest.mark.parametrize("value", [True, False, 5.5, 1.0, [1], {"p": 1}])
def test_non_integers_are_refused_with_the_range(value: Any) -> None:
    with pytest.raises(ValidationError, match=RANGE_RE):
        resolve_priority(value)


@pytest.mark.parametrize("value", ["²", "--5", "1_0", "1e2", "0x10"])
def test_strings_int_would_misread_are_validation_errors(value: str) -> None:
    with pytest.raises(ValidationError, match=RANGE_RE):
        resolve_priority(value)


def test_priority_name() -> None:
    assert priority_name(NAMED_PRIORITIES["high"]) == "high"
    assert priority_name(NAMED_PRIORITIES["low"]) == "low"
    assert priority_name(NAMED_PRIORITIES["low"] + 1) is None


def test_an_overlong_refused_string_is_quoted_by_a_prefix() -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_priority("h" * 10_000)
    assert "10000 characters" in str(caught.value)
    assert len(str(caught.value)) < 400
