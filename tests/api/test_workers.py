"""Workers: claim (with long-poll), heartbeat, complete, fail and batch reports."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from rota.config import Settings
from tests.api.conftest import API, Api, make_settings


async def _claimed(api: Api, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
    for _ in range(n):
        await api.submit(**fields)
    tasks = await api.claim(max=n)
    assert len(tasks) == n
    return tasks


# -- claim -------------------------------------------------------------------------------


async def test_claim_returns_tasks_in_priority_order_with_lease_tokens(api: Api) -> None:
    plan = [("l1", "low"), ("h1", "high"), ("m1", "mid"), ("p90", 90), ("h2", "high"), ("l2", 20)]
    for task_id, priority in plan:
        await api.submit(id=task_id, priority=priority)
    response = await api.post("/workers/w-1/claim", {"max": 4})
    assert response.status_code == 200
    tasks = response.json()["tasks"]
    assert [t["id"] for t in tasks] == ["p90", "h1", "h2", "m1"]
    for t in tasks:
        assert t["state"] == "running"
        assert t["worker_id"] == "w-1"
        assert t["attempt"] == 1
        assert isinstance(t["lease_token"], int) and t["lease_token"] >= 1
        assert t["started_at"] is not None
        assert t["lease_expires_at"] is not None
        lease = datetime.fromisoformat(t["lease_expires_at"])
        started = datetime.fromisoformat(t["started_at"])
        assert timedelta(seconds=29) <= lease - started <= timedelta(seconds=31)
        assert (await api.get(t["id"]))["state"] == "running"
    rest = await api.claim("w-2", max=10)
    assert [t["id"] for t in rest] == ["l1", "l2"]
    assert await api.claim("w-3") == []


async def test_claim_none_ready_is_204(api: Api) -> None:
    response = await api.post("/workers/w/claim", {})
    assert response.status_code == 204
    assert response.content == b""
    await api.submit(delay=100)
    assert (await api.post("/workers/w/claim", {"max": 5})).status_code == 204


async def test_claim_by_queue(api: Api) -> None:
    await api.submit(id="a1", queue="a", priority="high")
    await api.submit(id="b1", queue="b", priority="low")
    await api.submit(id="c1", queue="c", priority=100)
    assert [t["id"] for t in await api.claim(queues=["b"], max=5)] == ["b1"]
    assert [t["id"] for t in await api.claim(queues=["a", "b"], max=5)] == ["a1"]
    assert [t["id"] for t in await api.claim(max=5)] == ["c1"]


async def test_claim_never_hands_a_task_out_twice(api: Api) -> None:
    await api.post("/tasks/batch", {"tasks": [{"kind": "k", "priority": i % 7} for i in range(60)]})
    batches = await asyncio.gather(*(api.claim(f"w{i}", max=7) for i in range(12)))
    ids = [t["id"] for batch in batches for t in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_long_poll_returns_promptly_after_a_submit(api: Api) -> None:
    async def claim() -> tuple[float, httpx.Response]:
        started = time.monotonic()
        response = await api.post("/workers/poller/claim", {"wait": 2})
        return time.monotonic() - started, response

    async def submit_later() -> dict[str, Any]:
        await asyncio.sleep(0.2)  # let the claim start waiting first
        return await api.submit(id="late", priority="high")

    (elapsed, response), submitted = await asyncio.gather(claim(), submit_later())
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["tasks"]] == [submitted["id"]]
    assert elapsed < 1.5


async def test_long_poll_without_work_waits_then_204(api: Api) -> None:
    started = time.monotonic()
    response = await api.post("/workers/poller/claim", {"wait": 0.6})
    elapsed = time.monotonic() - started
    assert response.status_code == 204
    assert 0.55 <= elapsed < 2.0


async def test_long_poll_is_woken_by_a_retry(api: Api) -> None:
    (claimed,) = await _claimed(api)

    async def fail_later() -> httpx.Response:
        await asyncio.sleep(0.2)
        body = {"lease_token": claimed["lease_token"], "error": "again"}
        return await api.post(f"/tasks/{claimed['id']}/fail", body)

    started = time.monotonic()
    tasks, failed = await asyncio.gather(api.claim("other", wait=2), fail_later())
    assert failed.status_code == 200
    assert [t["id"] for t in tasks] == [claimed["id"]]
    assert tasks[0]["attempt"] == 2
    assert time.monotonic() - started < 1.5


# -- heartbeat ---------------------------------------------------------------------------


async def test_heartbeat_extends_the_lease(api: Api) -> None:
    (task,) = await _claimed(api)
    response = await api.post(
        f"/tasks/{task['id']}/heartbeat", {"lease_token": task["lease_token"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["cancel_requested"] is False
    assert datetime.fromisoformat(body["lease_expires_at"]) >= datetime.fromisoformat(
        task["lease_expires_at"]
    )


async def test_heartbeat_refusals(api: Api) -> None:
    (task,) = await _claimed(api)
    stale = await api.post(
        f"/tasks/{task['id']}/heartbeat", {"lease_token": task["lease_token"] + 1}
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "StaleLease"
    assert "stale" in stale.json()["message"]
    unknown = await api.post("/tasks/ghost/heartbeat", {"lease_token": 1})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "NotFound"
    await api.post(f"/tasks/{task['id']}/complete", {"lease_token": task["lease_token"]})
    finished = await api.post(
        f"/tasks/{task['id']}/heartbeat", {"lease_token": task["lease_token"]}
    )
    assert finished.status_code == 409
    assert "succeeded" in finished.json()["message"]


# -- complete / fail ---------------------------------------------------------------------


async def test_complete_stores_the_result(api: Api) -> None:
    (task,) = await _claimed(api)
    result = {"sum": 3, "items": [1, "two", None, {"x": True}]}
    response = await api.post(
        f"/tasks/{task['id']}/complete", {"lease_token": task["lease_token"], "result": result}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "succeeded"
    assert body["result"] == result
    assert body["finished_at"] is not None
    assert body["lease_expires_at"] is None
    assert (await api.get(task["id"]))["result"] == result


async def test_complete_twice_with_the_same_token_is_idempotent(api: Api) -> None:
    (task,) = await _claimed(api)
    path = f"/tasks/{task['id']}/complete"
    first = await api.post(path, {"lease_token": task["lease_token"], "result": "r"})
    second = await api.post(path, {"lease_token": task["lease_token"], "result": "r"})
    assert first.status_code == second.status_code == 200
    assert second.json()["state"] == "succeeded"
    assert second.json()["result"] == "r"
    assert second.json()["finished_at"] == first.json()["finished_at"]
    events = (await api.http.get(f"{API}/tasks/{task['id']}/events")).json()["events"]
    assert [e["kind"] for e in events].count("succeeded") == 1


async def test_fail_after_complete_is_409(api: Api) -> None:
    (task,) = await _claimed(api)
    await api.post(f"/tasks/{task['id']}/complete", {"lease_token": task["lease_token"]})
    response = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": task["lease_token"], "error": "late"}
    )
    assert response.status_code == 409
    assert response.json()["message"]
    after = await api.get(task["id"])
    assert after["state"] == "succeeded"
    assert after["error"] is None


async def test_stale_token_cannot_complete_the_next_attempt(api: Api) -> None:
    await api.submit(id="t", max_attempts=3)
    (first,) = await api.claim("w-old")
    await api.post("/tasks/t/fail", {"lease_token": first["lease_token"], "error": "x"})
    (second,) = await api.claim("w-new")
    assert second["lease_token"] != first["lease_token"]
    stale = await api.post("/tasks/t/complete", {"lease_token": first["lease_token"]})
    assert stale.status_code == 409
    assert stale.json()["error"] == "StaleLease"
    stale_fail = await api.post(
        "/tasks/t/fail", {"lease_token": first["lease_token"], "error": "y"}
    )
    assert stale_fail.status_code == 409
    assert (await api.get("t"))["state"] == "running"
    ok = await api.post("/tasks/t/complete", {"lease_token": second["lease_token"], "result": 2})
    assert ok.status_code == 200
    assert ok.json()["result"] == 2


async def test_complete_and_fail_unknown_task_is_404(api: Api) -> None:
    assert (await api.post("/tasks/ghost/complete", {"lease_token": 1})).status_code == 404
    response = await api.post("/tasks/ghost/fail", {"lease_token": 1, "error": "e"})
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


async def test_complete_of_a_never_claimed_task_is_409(api: Api) -> None:
    task = await api.submit()
    response = await api.post(f"/tasks/{task['id']}/complete", {"lease_token": 0})
    assert response.status_code == 409
    assert (await api.get(task["id"]))["state"] == "queued"


async def test_fail_with_attempts_left_goes_back_to_the_queue(api: Api) -> None:
    await api.submit(id="f", max_attempts=2)
    (first,) = await api.claim()
    response = await api.post("/tasks/f/fail", {"lease_token": first["lease_token"], "error": "e1"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "queued"
    assert body["attempt"] == 1
    assert body["error"] == "e1"
    (second,) = await api.claim()
    assert second["id"] == "f"
    assert second["attempt"] == 2
    last = await api.post("/tasks/f/fail", {"lease_token": second["lease_token"], "error": "e2"})
    assert last.json()["state"] == "failed"
    assert last.json()["attempt"] == 2
    assert last.json()["error"] == "e2"
    assert await api.claim() == []


async def test_fail_not_retryable_goes_straight_to_failed(api: Api) -> None:
    (task,) = await _claimed(api, max_attempts=5)
    response = await api.post(
        f"/tasks/{task['id']}/fail",
        {"lease_token": task["lease_token"], "error": "fatal", "retryable": False},
    )
    assert response.json()["state"] == "failed"
    assert response.json()["attempt"] == 1


async def test_fail_twice_with_the_same_token_is_idempotent(api: Api) -> None:
    (task,) = await _claimed(api, max_attempts=1)
    body = {"lease_token": task["lease_token"], "error": "same"}
    first = await api.post(f"/tasks/{task['id']}/fail", body)
    second = await api.post(f"/tasks/{task['id']}/fail", body)
    assert first.status_code == second.status_code == 200
    assert second.json()["state"] == "failed"
    complete = await api.post(f"/tasks/{task['id']}/complete", {"lease_token": task["lease_token"]})
    assert complete.status_code == 409


async def test_long_errors_are_truncated_not_refused(api: Api) -> None:
    (task,) = await _claimed(api, max_attempts=1)
    response = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": task["lease_token"], "error": "e" * 20_000}
    )
    assert response.status_code == 200
    assert response.json()["error"] == "e" * 16 * 1024


class TestBackoff:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(retry_backoff=30.0)

    async def test_fail_with_backoff_is_scheduled(self, api: Api) -> None:
        (task,) = await _claimed(api, max_attempts=3)
        response = await api.post(
            f"/tasks/{task['id']}/fail", {"lease_token": task["lease_token"], "error": "slow"}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["state"] == "scheduled"
        assert body["attempt"] == 1
        wait = datetime.fromisoformat(body["run_at"]) - datetime.fromisoformat(body["created_at"])
        assert timedelta(seconds=29) <= wait <= timedelta(seconds=60)
        assert await api.claim() == []


# -- report ------------------------------------------------------------------------------


async def test_report_many_with_per_item_statuses(api: Api) -> None:
    tasks = await _claimed(api, 6, max_attempts=2)
    t = {i: task for i, task in enumerate(tasks)}
    # t[5] already finished: a repeat with its own token is fine, another token is not
    await api.post(f"/tasks/{t[5]['id']}/complete", {"lease_token": t[5]["lease_token"]})
    body = {
        "completions": [
            {"id": t[0]["id"], "lease_token": t[0]["lease_token"], "result": {"i": 0}},
            {"id": t[1]["id"], "lease_token": t[1]["lease_token"] + 7},
            {"id": "ghost", "lease_token": 1},
            {"id": t[5]["id"], "lease_token": t[5]["lease_token"]},
        ],
        "failures": [
            {"id": t[2]["id"], "lease_token": t[2]["lease_token"], "error": "e2"},
            {
                "id": t[3]["id"],
                "lease_token": t[3]["lease_token"],
                "error": "e3",
                "retryable": False,
            },
            {"id": t[4]["id"], "lease_token": t[4]["lease_token"] + 1, "error": "stale"},
            {"id": "ghost-2", "lease_token": 1, "error": "e"},
            {"id": t[5]["id"], "lease_token": t[5]["lease_token"], "error": "too late"},
        ],
    }
    response = await api.post("/workers/w1/report", body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (t[0]["id"], 200),
        (t[1]["id"], 409),
        ("ghost", 404),
        (t[5]["id"], 200),
        (t[2]["id"], 200),
        (t[3]["id"], 200),
        (t[4]["id"], 409),
        ("ghost-2", 404),
        (t[5]["id"], 409),
    ]
    for r in results:
        if r["status"] != 200:
            assert r["message"], r
            assert r["error"] in {"StaleLease", "NotFound", "IllegalTransition"}
    assert results[1]["error"] == "StaleLease"
    states = {i: (await api.get(t[i]["id"]))["state"] for i in range(6)}
    assert states == {
        0: "succeeded",
        1: "running",
        2: "queued",
        3: "failed",
        4: "running",
        5: "succeeded",
    }
    assert (await api.get(t[0]["id"]))["result"] == {"i": 0}


async def test_report_of_a_large_batch(api: Api) -> None:
    await api.post("/tasks/batch", {"tasks": [{"kind": "k", "max_attempts": 1}] * 300})
    claimed = await api.claim(max=300)
    assert len(claimed) == 300
    completions = [
        {"id": c["id"], "lease_token": c["lease_token"], "result": n}
        for n, c in enumerate(claimed[:200])
    ]
    failures = [
        {"id": c["id"], "lease_token": c["lease_token"], "error": "no"} for c in claimed[200:]
    ]
    response = await api.post(
        "/workers/w1/report", {"completions": completions, "failures": failures}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 300
    assert all(r["status"] == 200 for r in results)
    stats = (await api.http.get(f"{API}/stats")).json()
    assert stats["states"] == {"succeeded": 200, "failed": 100}


async def test_report_over_the_item_limit_is_422(api: Api) -> None:
    items = [{"id": f"t{i}", "lease_token": 1} for i in range(1001)]
    response = await api.post("/workers/w1/report", {"completions": items})
    assert response.status_code == 422
    mixed = {"completions": items[:600], "failures": [{**i, "error": "e"} for i in items[600:]]}
    response = await api.post("/workers/w1/report", mixed)
    assert response.status_code == 422
    assert "1000" in response.json()["message"]


async def test_a_claim_can_carry_the_previous_batchs_results(api: Api) -> None:
    await api.post("/tasks/batch", {"tasks": [{"kind": "k", "id": f"t{i}"} for i in range(4)]})
    first = await api.claim(max=2)
    done, failed = first
    body = {
        "max": 2,
        "completions": [{"id": done["id"], "lease_token": done["lease_token"], "result": 7}],
        "failures": [
            {
                "id": failed["id"],
                "lease_token": failed["lease_token"],
                "error": "x",
                "retryable": False,
            },
            {"id": "t3", "lease_token": 99, "error": "not mine"},
        ],
    }
    response = await api.post("/workers/w1/claim", body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert sorted(t["id"] for t in answer["tasks"]) == ["t2", "t3"]
    statuses = {r["id"]: r["status"] for r in answer["results"]}
    assert statuses[done["id"]] == 200 and statuses[failed["id"]] == 200
    assert statuses["t3"] == 409  # a stale token is refused, item by item, as in /report
    assert (await api.get(done["id"]))["state"] == "succeeded"
    assert (await api.get(done["id"]))["result"] == 7
    assert (await api.get(failed["id"]))["state"] == "failed"
    assert (await api.get("t3"))["state"] == "running"


async def test_results_on_a_claim_with_nothing_to_claim_still_land(api: Api) -> None:
    await api.submit(id="only")
    (claimed,) = await api.claim()
    body = {"completions": [{"id": "only", "lease_token": claimed["lease_token"]}]}
    response = await api.post("/workers/w1/claim", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"tasks": [], "results": [{"id": "only", "status": 200}]}
    assert (await api.get("only"))["state"] == "succeeded"
