"""Task ids: generated ones are unique and valid; client ones are checked."""

from __future__ import annotations

import pytest

from rota.core.errors import ValidationError
from rota.core.ids import check_id, new_id
from rota.core.limits import MAX_ID_LENGTH


def test_new_ids_are_unique_valid_and_uuid_shaped() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:50]:
        assert check_id(value) == value
        assert len(value) == 36
        assert value[14] == "7"  # UUID version 7: time-ordered


@pytest.mark.parametrize(
    "value",
    ["a", "A", "0", "task-1", "job_2.part:3", "x" * MAX_ID_LENGTH, "0193b1f2-7d4e-7abc"],
)
def test_valid_ids(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * (MAX_ID_LENGTH + 1),
        "-leading-dash",
        ".hidden",
        "_under",
        "has space",
        "slash/inside",
        "semi;colon",
        "quote'",
        "naïve",
        "tab\there",
    ],
)
def test_invalid_ids_are_refused_with_the_rule(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_id(value, "task id")
    message = str(caught.value)
    assert message.startswith("task id ")
    assert f"1..{MAX_ID_LENGTH}" in message


def test_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationError):
        check_id("abc\n")
