"""The built-in handlers refuse arguments that would hold a worker slot for ever."""

from __future__ import annotations

from typing import Any

import pytest

from rota.worker.builtins import MAX_SLEEP_SECONDS, sleep


@pytest.mark.parametrize("seconds", ["inf", "1", float("inf"), float("nan"), -1, True, None])
async def test_sleep_refuses_what_is_not_a_bounded_number(seconds: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="seconds"):
        await sleep(seconds)


async def test_sleep_refuses_past_its_bound_and_sleeps_within_it() -> None:
    with pytest.raises(ValueError, match=f"{MAX_SLEEP_SECONDS:.0f}"):
        await sleep(MAX_SLEEP_SECONDS + 1)
    assert await sleep(0) == {"slept": 0.0}
    assert await sleep(0.01) == {"slept": 0.01}
