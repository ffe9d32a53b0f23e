"""A poison task kills its worker every time it runs: it must end ``failed`` after exactly
``max_attempts`` claims, and stay there: no loop, and the workers go on working."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable

import pytest

from tests.reliability.conftest import (
    LEASE,
    RERUN_BOUND,
    STORES,
    SWEEP,
    Rig,
    Row,
    Supervisor,
    check_history,
    sized,
    wait_until,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

POISONS = sized(5, 1)
MAX_ATTEMPTS = 3
WORKERS = sized(2, 1)
CONCURRENCY = sized(4, 1)
WATCH_AFTER = sized(LEASE + 2 * SWEEP, 2 * SWEEP)  # seconds we look for a loop afterwards


def _spread(values: Iterable[int]) -> str:
    """``3 x5`` for five 3s."""
    return ", ".join(f"{v} x{n}" for v, n in sorted(Counter(values).items()))


@pytest.mark.parametrize("store", STORES)
def test_poison_task_fails_after_max_attempts(rig: Rig, figures: Callable[[Row], None]) -> None:
    rig.serve(wait=False)
    supervisor = Supervisor(rig, WORKERS, "poison-w", concurrency=CONCURRENCY)
    rig.wait_healthy()
    start = time.monotonic()
    ids = rig.submit([{"kind": "poison", "max_attempts": MAX_ATTEMPTS} for _ in range(POISONS)])
    try:
        took = wait_until(
            "every poison task failed",
            lambda: all(t.state == "failed" for i, t in rig.store.tasks().items() if i in ids),
            MAX_ATTEMPTS * RERUN_BOUND * POISONS + 30,
        )
        failed_at = time.time()
        time.sleep(WATCH_AFTER)
        (healthy,) = rig.submit([{"kind": "work", "payload": {"ms": 1}}])
        wait_until(
            "a healthy task after the poison",
            lambda: rig.store.tasks()[healthy].state == "succeeded",
            30,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.store.tasks()}\n{rig.logs()}") from exc
    finally:
        supervisor.stop(signal.SIGKILL)  # idle by now
    elapsed = time.monotonic() - start

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    claims = {i: history.count(i, "claimed") for i in ids}
    late_claims = [
        e for i in ids for e in history.of(i) if e.kind == "claimed" and e.at >= failed_at
    ]
    starts = Counter(r["task"] for r in rig.records() if r["phase"] == "start")
    killed = [d for d in supervisor.deaths if d[1] == -9]
    wrong = [
        f"{i}: {tasks[i].state} attempt {tasks[i].attempt}, {claims[i]} claims"
        for i in ids
        if tasks[i].state != "failed"
        or tasks[i].attempt != MAX_ATTEMPTS
        or claims[i] != MAX_ATTEMPTS
    ]
    last = [history.of(i)[-1] for i in ids]
    figures(
        Row(
            "poison task",
            rig.store_kind,
            POISONS,
            f"{len(killed)} worker deaths (self-SIGKILL)",
            lost=sum(1 for i in ids if tasks[i].state not in ("failed",)),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            timing=f"failed after {took:.1f} s ({MAX_ATTEMPTS} attempts); run {elapsed:.1f} s",
            notes=(
                f"claims per task: {_spread(claims[i] for i in ids)}; handler starts per "
                f"task: {_spread(starts[i] for i in ids)}; claims after failing: "
                f"{len(late_claims)}"
            ),
        )
    )
    assert wrong == [], wrong
    assert late_claims == [], late_claims
    # a worker that claimed several poison tasks dies with the first handler it starts
    assert all(starts[i] <= MAX_ATTEMPTS for i in ids), starts
    assert sum(starts[i] for i in ids) >= len(killed), (starts, supervisor.deaths)
    assert len(killed) >= MAX_ATTEMPTS, supervisor.deaths
    assert all(e.kind == "failed" and "lease expired" in (e.message or "") for e in last), last
    assert history.succeeded_twice == [], history.succeeded_twice
    assert history.illegal == [], history.illegal
