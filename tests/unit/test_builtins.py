"""The built-in handlers refuse arguments that would hold a worker slot for ever, and stop
as soon as their cancel is requested."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rota.worker import Canceled, TaskContext
from rota.worker.builtins import MAX_SLEEP_SECONDS, shell, sleep
from tests.contract.helpers import make_task


def context() -> TaskContext:
    return TaskContext(make_task("t"), "w")


@pytest.mark.parametrize("seconds", ["inf", "1", float("inf"), float("nan"), -1, True, None])
async def test_sleep_refuses_what_is_not_a_bounded_number(seconds: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="seconds"):
        await sleep(context(), seconds)


async def test_sleep_refuses_past_its_bound_and_sleeps_within_it() -> None:
    with pytest.raises(ValueError, match=f"{MAX_SLEEP_SECONDS:.0f}"):
        await sleep(context(), MAX_SLEEP_SECONDS + 1)
    assert await sleep(context(), 0) == {"slept": 0.0}
    assert await sleep(context(), 0.01) == {"slept": 0.01}


async def test_sleep_stops_when_its_cancel_is_requested() -> None:
    ctx = context()
    asyncio.get_running_loop().call_later(0.05, ctx.cancel_requested.set)
    started = time.monotonic()
    with pytest.raises(Canceled):
        await sleep(ctx, 60)
    assert time.monotonic() - started < 1


async def test_shell_stops_its_whole_process_group_when_canceled(tmp_path: Any) -> None:
    ctx = context()
    marker = tmp_path / "child-ran-on"
    # a child of the shell that would outlive a kill of the shell alone
    cmd = f"(sleep 1.5; touch {marker}) & sleep 60"
    asyncio.get_running_loop().call_later(0.2, ctx.cancel_requested.set)
    started = time.monotonic()
    with pytest.raises(Canceled):
        await shell(ctx, cmd)
    assert time.monotonic() - started < 2
    await asyncio.sleep(1.6)
    assert not marker.exists()


async def test_shell_runs_a_command() -> None:
    done = await shell(context(), "echo hi; echo oops >&2")
    assert done == {"returncode": 0, "stdout": "hi\n", "stderr": "oops\n"}
