"""The server SIGKILLed and restarted under submit load: every submission answered with a
2xx is in the store afterwards, and runs."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from functools import partial

import pytest

from tests.reliability.conftest import (
    STORES,
    Rig,
    Row,
    Supervisor,
    check_history,
    sized,
    summary,
    wait_until,
)
from tests.reliability.load import SubmitLoad


def _at_least(load: SubmitLoad, n: int) -> bool:
    return len(load.acked()) >= n


pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CYCLES = sized(12, 3)
ACKS_PER_CYCLE = sized(500, 40)  # tasks acknowledged between two kills


@pytest.mark.parametrize("store", STORES)
def test_server_sigkill_loses_no_acknowledged_task(
    rig: Rig, figures: Callable[[Row], None]
) -> None:
    server = rig.serve(wait=False)
    supervisor = Supervisor(rig, 1, "srv-w", concurrency=4)
    rig.wait_healthy()
    load = SubmitLoad(rig.api_url, batch=sized(10, 5), pause=sized(0.005, 0.01))
    restarts: list[float] = []
    load.start()
    try:
        for _ in range(CYCLES):
            target = len(load.acked()) + ACKS_PER_CYCLE
            wait_until("submissions acknowledged", partial(_at_least, load, target), 60)
            server.send_signal(signal.SIGKILL)  # while the submitters are submitting
            server.wait(10)
            down = time.monotonic()
            server = rig.serve()
            restarts.append(time.monotonic() - down)
        target = len(load.acked()) + ACKS_PER_CYCLE // 2
        wait_until("submissions after the last restart", partial(_at_least, load, target), 60)
    finally:
        load.stop()
    acked = load.acked()
    try:
        wait_until(
            "every acknowledged task succeeded",
            lambda: all(t.state == "succeeded" for i, t in rig.store.tasks().items() if i in acked),
            sized(600, 60),
            poll=0.2,
        )
    except AssertionError:
        pass  # counted below as lost
    finally:
        supervisor.stop(signal.SIGKILL)  # idle by now

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    missing = sorted(acked - tasks.keys())
    not_run = sorted(i for i in acked & tasks.keys() if tasks[i].state != "succeeded")
    unanswered = {i for a in load.snapshot() if a.status == 0 for i in a.ids}
    kept_unanswered = len(unanswered & tasks.keys())
    statuses = load.statuses()
    figures(
        Row(
            "server SIGKILL",
            rig.store_kind,
            len(acked),
            f"{CYCLES} SIGKILL + restart",
            lost=len(missing) + len(not_run),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            timing=f"restart to healthy {summary(restarts)}",
            notes=(
                f"answers: {', '.join(f'{k} x{n}' for k, n in statuses.most_common())}; "
                f"{kept_unanswered} of {len(unanswered)} unanswered tasks were kept"
            ),
        )
    )
    assert missing == [], f"{len(missing)} acknowledged tasks missing, e.g. {missing[:10]}"
    assert not_run == [], f"{len(not_run)} acknowledged tasks never succeeded: {not_run[:10]}"
    assert history.succeeded_twice == [], history.succeeded_twice[:10]
    assert history.illegal == [], history.illegal[:10]
    unexpected = {s: n for s, n in statuses.items() if s not in ("201", "ConnectError")}
    # a request cut off by the kill ends in a transport error, never an error status
    assert all(not s.isdigit() for s in unexpected), statuses
