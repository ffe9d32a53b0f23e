"""Three API replicas and four HTTP workers on one store (a PostgreSQL schema, a Redis
namespace); the leader is killed.

Two thirds of the tasks, of mixed priorities, go in through every replica. When about a
third have succeeded, the replica that leads maintenance is SIGKILLed, and the last third
goes in through the survivors, so the workers that lose their replica have work left after
the kill however fast the machine ran the rest. Then: another replica must take the lead
within a bounded time; a task leased after the kill to a worker that never reports (the
"ghost") must be swept back and run by a real worker; the workers that talked to the dead
replica must fail over so that their results still land. At the end every task succeeded,
ran exactly once, and no lease was ever handed out twice.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rota.backends import backend_from_url
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from tests.stress.conftest import (
    DB,
    LEASE_SECONDS,
    SWEEP_INTERVAL,
    Cluster,
    Replica,
    pg_connect,
    scalar,
    sized,
)
from tests.stress.handlers import EXECUTIONS_DDL

pytestmark = [pytest.mark.stress, pytest.mark.slow]

TASKS = sized(20_000, 2_000)
BATCH = sized(1_000, 250)  # tasks per POST /tasks/batch
SINGLES = sized(300, 60)  # tasks submitted one by one, between the batches
WORKERS = 4
CONCURRENCY = 8
LEADER_DEADLINE = 10 * SWEEP_INTERVAL  # a new leader within this many seconds of the kill
FINISH_DEADLINE = sized(600, 90)


def _bodies(rng: random.Random) -> list[dict[str, Any]]:
    levels: list[int | str] = [0, 10, 20, "low", 50, "mid", 80, "high", 100]
    return [
        {
            "kind": "record",
            "payload": {"n": n},
            "priority": rng.choice([*levels, rng.randint(0, 100)]),
        }
        for n in range(TASKS)
    ]


def _plan() -> list[tuple[int, int, bool]]:
    """(start, end, one by one) slices of the task list in submission order."""
    batches = -(-(TASKS - SINGLES) // BATCH)
    per_gap = -(-SINGLES // batches)
    plan: list[tuple[int, int, bool]] = []
    i, singles_left = 0, SINGLES
    while i < TASKS:
        end = min(i + BATCH, TASKS - singles_left)
        if end > i:
            plan.append((i, end, False))
            i = end
        for _ in range(min(per_gap, singles_left)):
            plan.append((i, i + 1, True))
            i += 1
            singles_left -= 1
    return plan


def _submit(
    replicas: list[Replica], bodies: list[dict[str, Any]], plan: list[tuple[int, int, bool]]
) -> list[str]:
    """Each slice of ``plan`` (part of :func:`_plan`) goes to the next replica in turn;
    returns the ids."""
    clients = [httpx.Client(base_url=f"{r.url}/api/v1", timeout=60) for r in replicas]
    ids: list[str] = []
    per_replica: Counter[int] = Counter()
    try:
        for turn, (start, end, single) in enumerate(plan):
            which = turn % len(clients)
            if single:
                response = clients[which].post("/tasks", json=bodies[start])
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            else:
                body = {"tasks": bodies[start:end]}
                response = clients[which].post("/tasks/batch", json=body)
                assert response.status_code == 201, response.text
                ids += [t["id"] for t in response.json()["tasks"]]
            per_replica[which] += end - start
    finally:
        for client in clients:
            client.close()
    assert len(ids) == len(set(ids)) == sum(end - start for start, end, _ in plan)
    assert sorted(per_replica) == list(range(len(replicas))), per_replica
    return ids


def _leaders(replicas: list[Replica]) -> list[Replica]:
    answers = [(r, r.health()) for r in replicas]
    down = [r.url for r, h in answers if h is None or h.get("status") != "ok"]
    assert not down, f"replicas not healthy: {down}"
    return [r for r, h in answers if h is not None and h.get("leader") is True]


def _wait(what: str, done: Callable[[], object], timeout: float, poll: float = 0.05) -> float:
    """Poll ``done()`` until true; return the seconds it took, fail after ``timeout``."""
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(poll)
    return time.monotonic() - start


def test_replicas_and_workers_survive_the_leaders_death(cluster: Cluster) -> None:
    db = pg_connect(cluster.exec_url)
    try:
        _run(cluster, db)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n\nprocess logs:\n{cluster.logs()}") from exc
    finally:
        db.close()


def _store_tasks(url: str) -> dict[str, tuple[str, int, int, str | None, int]]:
    """Every task as (state, attempt, lease token, worker, claim events), read through
    rota's own backend, whatever the store."""

    async def read() -> dict[str, tuple[str, int, int, str | None, int]]:
        backend = backend_from_url(url)
        await backend.open()
        try:
            out = {}
            cursor = None
            while True:
                page = await backend.task_list(TaskFilter(), after_seq=cursor, limit=1000)
                for t in page:
                    claims = sum(e.kind == "claimed" for e in await backend.event_list(t.id))
                    out[t.id] = (t.state.value, t.attempt, t.lease_token, t.worker_id, claims)
                if len(page) < 1000:
                    return out
                cursor = page[-1].seq
        finally:
            await backend.close()

    return asyncio.run(read())


def _succeeded(url: str) -> int:
    async def read() -> int:
        backend = backend_from_url(url)
        await backend.open()
        try:
            counts = await backend.task_count_by_queue()
        finally:
            await backend.close()
        return sum(c.count for c in counts if c.state is TaskState.SUCCEEDED)

    return asyncio.run(read())


def _run(cluster: Cluster, db: DB) -> None:
    db.execute(EXECUTIONS_DDL)

    def succeeded() -> int:
        return _succeeded(cluster.db_url)

    replicas = cluster.serve(3)
    urls = [r.url for r in replicas]
    workers = {}
    for n in range(WORKERS):
        first = n % len(urls)  # rotated: the workers start on different replicas
        worker_id = f"stress-w{n}"
        workers[worker_id] = cluster.worker(
            urls[first:] + urls[:first],
            "--concurrency",
            str(CONCURRENCY),
            "--app",
            "tests.stress.handlers:registry",
            "--worker-id",
            worker_id,
            "--heartbeat-interval",
            str(LEASE_SECONDS / 3),
            "--claim-wait",
            "1",
            "--grace",
            "10",
            name=f"worker-{n}",
        )
    first_url = {f"stress-w{n}": urls[n % len(urls)] for n in range(WORKERS)}

    bodies = _bodies(random.Random(20_000))
    plan = _plan()
    # the last third is held back for after the kill, from a batch on (see the ghost)
    cut = next(i for i, (start, _, one) in enumerate(plan) if start >= TASKS * 2 // 3 and not one)
    t0 = time.monotonic()
    ids = _submit(replicas, bodies, plan[:cut])
    submitted, first_part = time.monotonic() - t0, len(ids)

    # -- kill the leader when about a third has run --------------------------------------
    leaders = _leaders(replicas)
    assert len(leaders) == 1, f"{len(leaders)} leaders among {len(replicas)} replicas"
    leader = leaders[0]
    _wait("a third of the tasks succeeded", lambda: succeeded() >= TASKS // 3, FINISH_DEADLINE)
    assert (leader.health() or {}).get("leader") is True, "the leader changed by itself"
    leader.proc.send_signal(signal.SIGKILL)
    leader.proc.wait(timeout=10)
    killed_at = scalar(db, "SELECT clock_timestamp()")
    kill_time = time.monotonic() - t0
    done_at_kill = succeeded()  # the held-back third is still to come: work after the kill
    survivors = [r for r in replicas if r is not leader]

    # -- a ghost leases a task after the kill and never reports -------------------------
    # It claims just after a batch lands, so that it finds a task never leased before
    # (once the queue runs dry, the first task ready again is one whose lease was lost).
    ids += _submit(survivors[:1], bodies, plan[cut : cut + 1])
    response = httpx.post(
        f"{survivors[0].url}/api/v1/workers/ghost/claim", json={"max": 1, "wait": 5}, timeout=30
    )
    assert response.status_code == 200, response.text
    (ghost_task,) = response.json()["tasks"]
    ghost_id, ghost_token = ghost_task["id"], ghost_task["lease_token"]
    assert ghost_task["attempt"] == 1, ghost_task
    ids += _submit(survivors, bodies, plan[cut + 1 :])
    assert len(ids) == len(set(ids)) == TASKS

    # -- another replica takes the lead, within a bounded time --------------------------
    took = _wait("a surviving replica became leader", lambda: _leaders(survivors), LEADER_DEADLINE)

    # -- everything finishes, the ghost's task included ---------------------------------
    _wait("every task succeeded", lambda: succeeded() == TASKS, FINISH_DEADLINE, poll=0.2)
    assert len(_leaders(survivors)) == 1, "not exactly one leader among the survivors"
    all_done = time.monotonic() - t0

    with httpx.Client(base_url=f"{survivors[1].url}/api/v1", timeout=30) as http:
        ghost = http.get(f"/tasks/{ghost_id}").json()
        events = http.get(f"/tasks/{ghost_id}/events").json()["events"]
        # the ghost's late report carries a stale lease token: fenced off
        late = http.post(
            "/workers/ghost/report",
            json={"completions": [{"id": ghost_id, "lease_token": ghost_token, "result": 0}]},
        )
    assert ghost["state"] == "succeeded", ghost
    assert ghost["attempt"] == 2, ghost
    assert ghost["worker_id"] in workers, ghost
    assert ghost["result"] is not None, ghost
    # enqueued, leased to the ghost, swept back, (promoted after the backoff,) run, done
    runner = ghost["worker_id"]
    lifecycle = [(e["kind"], e["worker_id"]) for e in events if e["kind"] != "promoted"]
    assert lifecycle == [
        ("enqueued", None),
        ("claimed", "ghost"),
        ("retry", "ghost"),
        ("claimed", runner),
        ("succeeded", runner),
    ], events
    assert "lease expired" in next(e["message"] for e in events if e["kind"] == "retry")
    assert late.status_code == 200, late.text
    assert late.json()["results"][0]["status"] == 409, late.text

    # -- stop the workers gracefully, so that no run is still in flight when we count ----
    for proc in workers.values():
        proc.send_signal(signal.SIGTERM)
    codes = {w: proc.wait(timeout=60) for w, proc in workers.items()}
    assert codes == dict.fromkeys(workers, 0), codes

    # -- the store and the executions agree: every task ran once, under one lease --------
    tasks = _store_tasks(cluster.db_url)
    states = Counter(t[0] for t in tasks.values())
    assert states == {"succeeded": TASKS}, states
    assert set(tasks) == set(ids)

    runs = db.execute(
        "SELECT task_id, count(*) FROM executions GROUP BY task_id HAVING count(*) <> 1"
    ).fetchall()
    assert runs == [], f"{len(runs)} tasks ran other than once, e.g. {runs[:10]}"
    executed = {r[0] for r in db.execute("SELECT DISTINCT task_id FROM executions").fetchall()}
    assert executed == set(tasks), f"{len(set(tasks) - executed)} tasks never ran"
    shared_leases = db.execute(
        "SELECT task_id, lease_token, count(*) FROM executions "
        "GROUP BY task_id, lease_token HAVING count(*) > 1"
    ).fetchall()
    assert shared_leases == [], f"runs under one lease: {shared_leases[:10]}"

    claims = [(i, t) for i, t in tasks.items() if t[4] != t[1]]
    assert claims == [], f"{len(claims)} tasks with claims <> attempts, e.g. {claims[:10]}"
    if cluster.store == "postgres":
        # A lease token's high 32 bits count the task's claims (queries.sql, CLAIM_PICKED).
        counted = [(i, t) for i, t in tasks.items() if t[2] >> 32 != t[1]]
        assert counted == [], f"tokens that do not count claims: {counted[:10]}"
    accepted = {i: (t[1], t[2], t[3]) for i, t in tasks.items()}
    mismatched = [
        r
        for r in db.execute("SELECT task_id, attempt, lease_token, worker_id FROM executions")
        if accepted[r[0]] != (r[1], r[2], r[3])
    ]
    assert mismatched == [], f"a run other than the accepted one: {mismatched[:10]}"
    (ghost_run,) = db.execute(
        "SELECT attempt, worker_id FROM executions WHERE task_id = %s", [ghost_id]
    ).fetchall()
    assert ghost_run == (2, ghost["worker_id"])

    # -- the workers that started on the dead replica failed over and kept working -------
    after: dict[str, int] = dict(
        db.execute(
            "SELECT worker_id, count(*) FROM executions WHERE at > %s GROUP BY worker_id",
            [killed_at],
        ).fetchall()
    )
    orphans = [w for w, url in first_url.items() if url == leader.url]
    assert orphans, "no worker started on the leader"
    for worker_id in orphans:
        assert after.get(worker_id, 0) > 0, f"{worker_id} ran nothing after the kill: {after}"
    assert set(after) == set(workers), after

    retried = sum(1 for t in tasks.values() if t[1] > 1)
    print(
        f"{cluster.store}: {first_part} tasks submitted in {submitted:.1f} s; "
        f"leader killed at {kill_time:.1f} s "
        f"with {done_at_kill} done, the other {TASKS - first_part} submitted then; "
        f"new leader {took:.2f} s later; all done at {all_done:.1f} s; "
        f"{retried} tasks needed a second lease"
    )
