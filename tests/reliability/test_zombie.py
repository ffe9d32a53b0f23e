"""A worker paused (SIGSTOP) past its lease comes back (SIGCONT) as a zombie: its task has
been run by another worker meanwhile, and nothing the zombie sends about its old lease may
be accepted: not its heartbeats, not its completion."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.reliability.conftest import (
    LEASE,
    RERUN_BOUND,
    STORES,
    Exchange,
    RecordingProxy,
    Rig,
    Row,
    check_history,
    sized,
    summary,
    wait_until,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROUNDS = sized(5, 1)
TASKS_PER_ROUND = 2  # the zombie holds two tasks at once
HOLD = sized(3, 2.5) * LEASE  # the first attempt runs this long: well past the pause


@dataclass
class Outcome:
    """What the rounds saw, summed."""

    ids: list[str] = field(default_factory=list)
    stale_sent: Counter[str] = field(default_factory=Counter)  # by kind of write
    accepted: list[str] = field(default_factory=list)
    replayed_accepted: list[str] = field(default_factory=list)
    takeover: list[float] = field(default_factory=list)
    wrong_result: list[str] = field(default_factory=list)


def _stale_writes(
    exchanges: list[Exchange], stale: dict[str, int]
) -> tuple[Counter[str], list[str]]:
    """The zombie's writes about its superseded leases (counted by kind: heartbeat,
    complete, fail, report-complete, report-fail, claim-complete, claim-fail), and those
    that were accepted.

    A worker sends a finished run's result either in a report or along with its next
    claim, whichever goes first, so both carry results."""
    sent: Counter[str] = Counter()
    accepted: list[str] = []
    for x in exchanges:
        parts = x.path.split("?")[0].strip("/").split("/")
        body: dict[str, Any] = x.request if isinstance(x.request, dict) else {}
        if parts[-1] in ("heartbeat", "complete", "fail") and parts[-3] == "tasks":
            task_id = parts[-2]
            if stale.get(task_id) == body.get("lease_token"):
                sent[parts[-1]] += 1
                if 200 <= x.status < 300:
                    accepted.append(f"{parts[-1]} {task_id}: {x.status}")
        elif parts[-1] in ("report", "claim"):
            items = [(f"{parts[-1]}-complete", c) for c in body.get("completions", [])]
            items += [(f"{parts[-1]}-fail", f) for f in body.get("failures", [])]
            answers = x.response.get("results", []) if isinstance(x.response, dict) else []
            for (kind, item), answer in zip(items, answers, strict=False):
                if stale.get(item.get("id")) == item.get("lease_token"):
                    sent[kind] += 1
                    if answer.get("status") == 200:
                        accepted.append(f"{kind} {item['id']}: {answer}")
    return sent, accepted


def _replay(rig: Rig, worker: str, tokens: dict[str, int]) -> list[str]:
    """Send every kind of stale write once more, directly; return those not refused."""
    accepted: list[str] = []
    with rig.http() as http:
        for i, token in tokens.items():
            stale = {"lease_token": token}
            answers = [
                http.post(f"/tasks/{i}/heartbeat", json=stale),
                http.post(f"/tasks/{i}/complete", json={**stale, "result": "zombie"}),
                http.post(f"/tasks/{i}/fail", json={**stale, "error": "zombie"}),
            ]
            accepted += [
                f"{a.request.url.path}: {a.status_code}" for a in answers if a.status_code != 409
            ]
            report = http.post(
                f"/workers/{worker}/report",
                json={
                    "completions": [{"id": i, **stale, "result": "zombie"}],
                    "failures": [{"id": i, **stale, "error": "zombie"}],
                },
            )
            accepted += [f"report {r}" for r in report.json()["results"] if r["status"] != 409]
    return accepted


def _round(rig: Rig, proxy: RecordingProxy, n: int, out: Outcome) -> None:
    # A queue per round: a claim the previous round's zombie left in flight at the proxy
    # when it was killed must not pick up this round's tasks.
    queue = f"zombie-{n}"
    ids = rig.submit(
        [
            {"kind": "stubborn", "queue": queue, "payload": {"hold": HOLD}}
            for _ in range(TASKS_PER_ROUND)
        ]
    )
    out.ids += ids
    zombie_id, rescuer_id = f"zombie{n}", f"rescuer{n}"
    only = ("--queue", queue)
    zombie = rig.worker(zombie_id, concurrency=TASKS_PER_ROUND, url=proxy.url, extra=only)
    rescuer = None
    try:

        def zombie_runs_all() -> bool:
            tasks = rig.store.tasks()
            return all(tasks[i].state == "running" and tasks[i].worker_id == zombie_id for i in ids)

        wait_until("the zombie runs its tasks", zombie_runs_all, 30)
        tokens = {i: rig.store.tasks()[i].lease_token for i in ids}
        time.sleep(0.6)  # a heartbeat goes through while it is healthy
        stopped_at = time.time()
        zombie.send_signal(signal.SIGSTOP)
        rescuer = rig.worker(rescuer_id, concurrency=TASKS_PER_ROUND, extra=only)

        def taken_over() -> list[float]:
            history = check_history(rig.store)
            claims = [
                [e.at for e in history.of(i) if e.kind == "claimed" and e.worker_id == rescuer_id]
                for i in ids
            ]
            return [c[0] for c in claims] if all(claims) else []

        wait_until("another worker took the tasks over", taken_over, LEASE * 10)
        out.takeover += [at - stopped_at for at in taken_over()]
        resumed_at = time.time()
        zombie.send_signal(signal.SIGCONT)

        # Its heartbeats are refused, its handler ignores the cancel and returns at the
        # end of HOLD, and the runtime reports that completion under the stale lease.
        def completions_sent() -> bool:
            sent, _ = _stale_writes(proxy.since(resumed_at), tokens)
            late = sent["report-complete"] + sent["claim-complete"] + sent["complete"]
            return late >= len(ids)

        wait_until("the zombie reported its late completions", completions_sent, HOLD + 10)
        time.sleep(0.3)
        sent, accepted = _stale_writes(proxy.since(resumed_at), tokens)
        out.stale_sent += sent
        out.accepted += accepted
        out.replayed_accepted += _replay(rig, zombie_id, tokens)
        tasks = rig.store.tasks()
        out.wrong_result += [
            f"{i}: {tasks[i]}"
            for i in ids
            if tasks[i].state != "succeeded"
            or tasks[i].worker_id != rescuer_id
            or tasks[i].result != {"worker": rescuer_id, "attempt": 2}
        ]
    finally:
        for proc in (zombie, rescuer):
            if proc is not None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(30)


@pytest.mark.parametrize("store", STORES)
def test_paused_worker_is_fenced_off(rig: Rig, figures: Callable[[Row], None]) -> None:
    rig.serve()
    proxy = RecordingProxy(rig.url)
    out = Outcome()
    try:
        for n in range(ROUNDS):
            _round(rig, proxy, n, out)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.logs()}") from exc
    finally:
        proxy.close()

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    lost = [i for i in out.ids if tasks[i].state != "succeeded"]
    zombie_logs = "".join(p.read_text() for p in rig.tmp.glob("worker-zombie*.log"))
    refusals = zombie_logs.count("lost the lease")
    zombie_ends = [
        r for r in rig.records() if r["phase"] == "end" and r["worker"].startswith("zombie")
    ]
    figures(
        Row(
            "worker SIGSTOP (zombie)",
            rig.store_kind,
            len(out.ids),
            f"{ROUNDS} SIGSTOP/SIGCONT",
            lost=len(lost),
            succeeded_twice=len(history.succeeded_twice),
            zombie_accepted=len(out.accepted) + len(out.replayed_accepted),
            illegal=len(history.illegal),
            timing=f"taken over {summary(out.takeover)} after SIGSTOP",
            notes=(
                f"stale writes sent by the zombie: "
                f"{', '.join(f'{k} x{n}' for k, n in sorted(out.stale_sent.items()))}, and "
                f"{len(out.ids) * 5} replayed by the test; {refusals} heartbeat refusals in "
                f"its log; {len(zombie_ends)} of its handler runs finished after the takeover"
            ),
        )
    )
    assert out.accepted == [], out.accepted
    assert out.replayed_accepted == [], out.replayed_accepted
    assert out.wrong_result == [], out.wrong_result
    assert lost == [], lost
    assert history.succeeded_twice == [], history.succeeded_twice
    assert history.illegal == [], history.illegal
    assert out.stale_sent["heartbeat"] >= len(out.ids), out.stale_sent
    assert refusals >= len(out.ids), zombie_logs[-3000:]
    assert len(zombie_ends) == len(out.ids)
    assert max(out.takeover) <= RERUN_BOUND, out.takeover
