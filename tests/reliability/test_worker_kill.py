"""Workers SIGKILLed in the middle of tasks: nothing is lost, nothing succeeds twice, and
every task a kill stranded runs again within lease + sweep interval (+ slack)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable

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
    rng,
    sized,
    summary,
    wait_until,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TASKS = sized(5_000, 300)
KILLS = sized(200, 10)
WORKERS = 3
CONCURRENCY = 4
MS = sized((100, 400), (50, 200))  # a task sleeps this many milliseconds (range)
TOP_UP = 20  # tasks added when the work runs out before the kills are done
MAX_ATTEMPTS = 50  # a task may be caught by several kills; only lost work is a failure


@pytest.mark.parametrize("store", STORES)
def test_worker_sigkill_mid_task(rig: Rig, figures: Callable[[Row], None]) -> None:
    rig.serve(wait=False)
    supervisor = Supervisor(rig, WORKERS, "kill-w", concurrency=CONCURRENCY)
    rig.wait_healthy()
    random = rng(5_000)

    def bodies(n: int) -> list[dict[str, object]]:
        return [
            {"kind": "work", "payload": {"ms": random.randint(*MS)}, "max_attempts": MAX_ATTEMPTS}
            for _ in range(n)
        ]

    ids = rig.submit(bodies(TASKS))
    kills: list[tuple[str, float]] = []  # worker id, wall-clock time of the SIGKILL
    working: set[str] = set()  # workers seen holding tasks: surely up and claiming
    step = TASKS / (KILLS + 2)  # kills spread over the run; the last one finds work
    deadline = time.monotonic() + sized(3_000, 100)
    try:
        for n in range(1, KILLS + 1):
            while rig.store.states()["succeeded"] < n * step:
                assert time.monotonic() < deadline, f"stuck before kill {n}\n{rig.logs()}"
                time.sleep(0.02)
            while True:  # a victim that holds running tasks right now, and another
                # worker that is surely up and claiming, to re-run what the kill strands
                running = rig.store.running_by_worker()
                working.update(w for w, count in running.items() if count > 0)
                live = supervisor.live()
                victims = [
                    v
                    for v in live
                    if running[v.worker_id] > 0
                    and any(w is not v and w.worker_id in working for w in live)
                ]
                if victims:
                    break
                states = rig.store.states()
                if states["queued"] + states["running"] == 0:  # the kills lag: more work
                    ids += rig.submit(bodies(TOP_UP))
                assert time.monotonic() < deadline, f"no worker runs anything\n{rig.logs()}"
                time.sleep(0.01)
            victim = random.choice(victims)
            kills.append((victim.worker_id, supervisor.send(victim, signal.SIGKILL)))
        wait_until(
            "every task succeeded",
            lambda: rig.store.states()["succeeded"] == len(ids),
            timeout=max(0.0, deadline - time.monotonic()),
            poll=0.1,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstates {rig.store.states()}\n{rig.logs()}") from exc
    finally:
        codes = supervisor.stop()

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    lost = [i for i in ids if tasks[i].state != "succeeded"]

    # The tasks each kill stranded: claimed by the victim, then taken back by the sweeper.
    killed_at = dict(kills)
    delays: list[float] = []
    late: list[str] = []
    never_rerun: list[str] = []
    stranded_per_kill: Counter[str] = Counter()
    for task_id, events in history.events.items():
        for i, e in enumerate(events):
            if e.kind != "claimed" or e.worker_id not in killed_at:
                continue
            after = events[i + 1 :]
            if (
                not after
                or after[0].kind != "retry"
                or "lease expired" not in (after[0].message or "")
            ):
                continue  # it finished (or was reported) before the kill
            stranded_per_kill[e.worker_id] += 1
            rerun = next((x for x in after if x.kind == "claimed"), None)
            if rerun is None:
                never_rerun.append(task_id)
                continue
            delay = rerun.at - killed_at[e.worker_id]
            delays.append(delay)
            if delay > RERUN_BOUND:
                swept = after[0].at - killed_at[e.worker_id]
                late.append(
                    f"{task_id}: claimed {e.at - killed_at[e.worker_id]:+.2f} s, swept "
                    f"{swept:+.2f} s, re-claimed by {rerun.worker_id} {delay:+.2f} s from the kill"
                )
    starts = Counter(r["task"] for r in rig.records() if r["phase"] == "start")
    reexecuted = sum(1 for n in starts.values() if n > 1)
    killed_worker_deaths = [d for d in supervisor.deaths if d[0] in killed_at]

    figures(
        Row(
            "worker SIGKILL",
            rig.store_kind,
            len(ids),
            f"{len(kills)} SIGKILL",
            lost=len(lost),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            timing=f"re-run {summary(delays)} (bound {RERUN_BOUND:g} s)",
            notes=(
                f"{len(delays)} stranded tasks re-run; handler ran twice or more for "
                f"{reexecuted} tasks; "
                f"{len(stranded_per_kill)} of {len(kills)} kills caught a running task"
            ),
        )
    )
    assert len(kills) == KILLS
    assert len(killed_worker_deaths) == KILLS, supervisor.deaths
    assert lost == [], f"{len(lost)} tasks lost, e.g. {[tasks[i] for i in lost[:5]]}"
    assert history.succeeded_twice == [], history.succeeded_twice[:10]
    assert history.illegal == [], history.illegal[:10]
    assert never_rerun == [], never_rerun[:10]
    assert late == [], f"re-run later than lease {LEASE} + sweep {SWEEP} + slack: {late[:10]}"
    # the kills did land in the middle of tasks
    assert len(stranded_per_kill) >= KILLS * 0.8, (len(stranded_per_kill), KILLS)
    assert codes == [0] * WORKERS, codes
