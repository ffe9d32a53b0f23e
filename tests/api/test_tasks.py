"""Producers and operators: POST/GET /tasks, batches, positions, listing, events, controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.api.conftest import API, Api

TASK_FIELDS = {
    "id",
    "queue",
    "kind",
    "payload",
    "priority",
    "state",
    "attempt",
    "max_attempts",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
    "worker_id",
    "result",
    "error",
    "tenant",
    "job_id",
}


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, f"{value} has no offset"
    return parsed


# -- submit ------------------------------------------------------------------------------


async def test_submit_returns_201_with_the_task(api: Api) -> None:
    response = await api.post(
        "/tasks",
        {"kind": "echo", "payload": {"n": 1, "s": "x"}, "queue": "mail", "tenant": "acme"},
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    task = response.json()
    assert task.keys() >= TASK_FIELDS
    assert task["kind"] == "echo"
    assert task["queue"] == "mail"
    assert task["payload"] == {"n": 1, "s": "x"}
    assert task["tenant"] == "acme"
    assert task["state"] == "queued"
    assert task["attempt"] == 0
    assert task["max_attempts"] == 3
    assert task["started_at"] is None
    assert task["finished_at"] is None
    assert task["worker_id"] is None
    assert task["result"] is None
    assert task["error"] is None
    assert task["job_id"] is None
    assert "lease_token" not in task
    assert _time(task["run_at"]) <= _time(task["created_at"]) + timedelta(seconds=1)
    assert abs(_time(task["created_at"]) - datetime.now(UTC)) < timedelta(seconds=30)
    # the server made an id, and GET returns the same task
    assert isinstance(task["id"], str) and task["id"]
    again = await api.get(task["id"])
    assert {k: again[k] for k in TASK_FIELDS} == {k: task[k] for k in TASK_FIELDS}


async def test_server_ids_are_unique_and_time_sortable(api: Api) -> None:
    ids = [(await api.submit())["id"] for _ in range(5)]
    assert len(set(ids)) == 5
    assert ids == sorted(ids)


async def test_named_priorities_and_default(api: Api) -> None:
    expected = {"high": 80, "mid": 50, "low": 20, 0: 0, 100: 100, 73: 73}
    for given, number in expected.items():
        task = await api.submit(priority=given)
        assert task["priority"] == number, given
    default = await api.submit()
    assert default["priority"] == 20
    assert default["priority_name"] == "low"
    assert (await api.submit(priority="high"))["priority_name"] == "high"
    assert (await api.submit(priority=73))["priority_name"] is None


async def test_client_supplied_id_and_duplicate_is_409(api: Api) -> None:
    task = await api.submit(id="order-17:a.b_c")
    assert task["id"] == "order-17:a.b_c"
    assert (await api.get("order-17:a.b_c"))["kind"] == "work"
    response = await api.post("/tasks", {"kind": "other", "id": "order-17:a.b_c"})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "DuplicateTask"
    assert "order-17:a.b_c" in body["message"]
    # the first one is untouched
    assert (await api.get("order-17:a.b_c"))["kind"] == "work"


async def test_delay_and_run_at_make_a_scheduled_task(api: Api) -> None:
    delayed = await api.submit(delay=60)
    assert delayed["state"] == "scheduled"
    delta = _time(delayed["run_at"]) - _time(delayed["created_at"])
    assert timedelta(seconds=59) <= delta <= timedelta(seconds=61)

    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    at = await api.submit(run_at=when.isoformat())
    assert at["state"] == "scheduled"
    assert _time(at["run_at"]) == when

    # an offset other than UTC means the same instant
    plus2 = when.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert plus2.endswith("+02:00")
    assert _time((await api.submit(run_at=plus2))["run_at"]) == when

    # a past run_at is ready now
    past = await api.submit(run_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert past["state"] == "queued"

    # scheduled tasks are not claimable, the queued one is
    claimed = await api.claim(max=10)
    assert [t["id"] for t in claimed] == [past["id"]]


async def test_max_attempts_and_timeout_are_kept(api: Api) -> None:
    task = await api.submit(max_attempts=7, timeout=12.5)
    assert task["max_attempts"] == 7
    assert task["timeout"] == 12.5


# -- batch -------------------------------------------------------------------------------


async def test_batch_stores_all_in_order(api: Api) -> None:
    body = {"tasks": [{"kind": "b", "payload": {"i": i}, "priority": i % 3 * 10} for i in range(5)]}
    response = await api.post("/tasks/batch", body)
    assert response.status_code == 201
    tasks = response.json()["tasks"]
    assert [t["payload"]["i"] for t in tasks] == list(range(5))
    assert [t["priority"] for t in tasks] == [0, 10, 20, 0, 10]
    for t in tasks:
        assert (await api.get(t["id"]))["state"] == "queued"


async def test_batch_is_atomic_on_a_duplicate_of_a_stored_id(api: Api) -> None:
    await api.submit(id="taken")
    body = {"tasks": [{"kind": "b", "id": "new-1"}, {"kind": "b", "id": "taken"}, {"kind": "b"}]}
    response = await api.post("/tasks/batch", body)
    assert response.status_code == 409
    assert "message" in response.json()
    assert (await api.http.get(f"{API}/tasks/new-1")).status_code == 404
    listed = (await api.http.get(f"{API}/tasks", params={"kind": "b"})).json()
    assert listed["tasks"] == []


async def test_batch_is_atomic_on_a_duplicate_inside_it(api: Api) -> None:
    body = {"tasks": [{"kind": "b", "id": "twin"}, {"kind": "b"}, {"kind": "b", "id": "twin"}]}
    response = await api.post("/tasks/batch", body)
    assert response.status_code == 409
    assert response.json()["message"]
    assert (await api.http.get(f"{API}/tasks/twin")).status_code == 404
    assert (await api.http.get(f"{API}/stats")).json()["total"] == 0


async def test_batch_is_atomic_on_one_invalid_task(api: Api) -> None:
    body = {"tasks": [{"kind": "b", "id": "ok-1"}, {"kind": "b", "priority": 500}]}
    response = await api.post("/tasks/batch", body)
    assert response.status_code == 422
    assert (await api.http.get(f"{API}/tasks/ok-1")).status_code == 404


async def test_batch_limit(api: Api) -> None:
    at_limit = await api.post("/tasks/batch", {"tasks": [{"kind": "b"}] * 1000})
    assert at_limit.status_code == 201
    assert len(at_limit.json()["tasks"]) == 1000
    over = await api.post("/tasks/batch", {"tasks": [{"kind": "c"}] * 1001})
    assert over.status_code == 422
    assert "message" in over.json()
    assert (await api.http.get(f"{API}/stats")).json()["total"] == 1000


# -- get and position --------------------------------------------------------------------


async def test_position_with_mixed_priorities(api: Api) -> None:
    # enqueue order: l1 h1 m1 l2 h2 m2, plus noise in another queue
    order = ["low", "high", "mid", "low", "high", "mid"]
    ids: dict[str, str] = {}
    counts: dict[str, int] = {}
    for name in order:
        counts[name] = counts.get(name, 0) + 1
        key = f"{name[0]}{counts[name]}"
        ids[key] = (await api.submit(id=key, priority=name, queue="q"))["id"]
    await api.submit(id="other-queue", priority="high", queue="elsewhere")
    expected = {
        "h1": (1, 1),
        "h2": (2, 2),
        "m1": (1, 3),
        "m2": (2, 4),
        "l1": (1, 5),
        "l2": (2, 6),
    }
    for key, (in_priority, in_queue) in expected.items():
        task = await api.get(ids[key])
        assert task["position"] == {"in_priority": in_priority, "in_queue": in_queue}, key
    assert (await api.get("other-queue"))["position"] == {"in_priority": 1, "in_queue": 1}

    # claiming h1 moves everyone in that queue up by one
    claimed = await api.claim(queues=["q"])
    assert [t["id"] for t in claimed] == ["h1"]
    assert "position" not in await api.get("h1")
    assert (await api.get("h2"))["position"] == {"in_priority": 1, "in_queue": 1}
    assert (await api.get("l2"))["position"] == {"in_priority": 2, "in_queue": 5}


async def test_no_position_unless_queued(api: Api) -> None:
    scheduled = await api.submit(delay=100)
    assert "position" not in await api.get(scheduled["id"])


async def test_unknown_task_is_404_json(api: Api) -> None:
    response = await api.http.get(f"{API}/tasks/does-not-exist")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "NotFound"
    assert "does-not-exist" in body["message"]
    for path in ("/tasks/nope/cancel", "/tasks/nope/retry"):
        assert (await api.post(path)).status_code == 404
    assert (await api.post("/tasks/nope/priority", {"priority": 5})).status_code == 404
    assert (await api.http.get(f"{API}/tasks/nope/events")).status_code == 404
    assert (await api.http.get(f"{API}/jobs/nope")).status_code == 404


# -- listing -----------------------------------------------------------------------------


async def _list(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.http.get(f"{API}/tasks", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_list_filters(api: Api) -> None:
    a = await api.submit(queue="qa", kind="ka", tenant="t1")
    b = await api.submit(queue="qb", kind="ka", tenant="t2")
    c = await api.submit(queue="qa", kind="kb")
    d = await api.submit(queue="qa", kind="ka", tenant="t1", delay=300)
    job = (await api.post("/jobs", {"name": "j", "tasks": [{"kind": "kj"}, {"kind": "kj"}]})).json()
    job_ids = {t["id"] for t in job["tasks"]}

    def ids(page: dict[str, Any]) -> set[str]:
        return {t["id"] for t in page["tasks"]}

    assert ids(await _list(api, queue="qa")) == {a["id"], c["id"], d["id"]}
    assert ids(await _list(api, queue="qb")) == {b["id"]}
    assert ids(await _list(api, kind="ka")) == {a["id"], b["id"], d["id"]}
    assert ids(await _list(api, tenant="t1")) == {a["id"], d["id"]}
    assert ids(await _list(api, state="scheduled")) == {d["id"]}
    assert ids(await _list(api, queue="qa", kind="ka", state="queued")) == {a["id"]}
    assert ids(await _list(api, job_id=job["id"])) == job_ids
    assert ids(await _list(api, queue="nothing-here")) == set()
    everything = await _list(api)
    assert len(everything["tasks"]) == 6
    assert everything["next_cursor"] is None
    # newest first
    listed = [t["id"] for t in everything["tasks"]]
    assert listed[-1] == a["id"]
    assert listed.index(d["id"]) < listed.index(c["id"]) < listed.index(b["id"])


async def test_list_pagination_sees_every_task_once(api: Api) -> None:
    body = {"tasks": [{"kind": "p", "payload": {"i": i}} for i in range(23)]}
    submitted = (await api.post("/tasks/batch", body)).json()["tasks"]
    await api.submit(kind="not-p")
    seen: list[str] = []
    pages = 0
    cursor: int | None = None
    while True:
        params: dict[str, Any] = {"kind": "p", "limit": 5}
        if cursor is not None:
            params["cursor"] = cursor
        page = await _list(api, **params)
        pages += 1
        assert len(page["tasks"]) <= 5
        seen.extend(t["id"] for t in page["tasks"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 50, "pagination does not end"
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {t["id"] for t in submitted}
    assert seen == [t["id"] for t in reversed(submitted)]


async def test_list_exact_multiple_of_limit_ends_with_null_cursor(api: Api) -> None:
    await api.post("/tasks/batch", {"tasks": [{"kind": "p"}] * 4})
    first = await _list(api, limit=2)
    assert len(first["tasks"]) == 2 and first["next_cursor"] is not None
    second = await _list(api, limit=2, cursor=first["next_cursor"])
    assert len(second["tasks"]) == 2
    assert second["next_cursor"] is None


async def test_list_rejects_bad_parameters(api: Api) -> None:
    for params in ({"state": "dancing"}, {"limit": 0}, {"limit": 1001}, {"cursor": "abc"}):
        response = await api.http.get(f"{API}/tasks", params=params)
        assert response.status_code == 422, params
        assert response.json()["message"]


# -- events ------------------------------------------------------------------------------


async def test_events_show_the_history_in_order(api: Api) -> None:
    task = await api.submit(max_attempts=2)
    (first,) = await api.claim("w-a")
    failed = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": first["lease_token"], "error": "boom"}
    )
    assert failed.json()["state"] == "queued"
    (second,) = await api.claim("w-b")
    done = await api.post(
        f"/tasks/{task['id']}/complete", {"lease_token": second["lease_token"], "result": 1}
    )
    assert done.status_code == 200
    response = await api.http.get(f"{API}/tasks/{task['id']}/events")
    assert response.status_code == 200
    events = response.json()["events"]
    steps = [(e["kind"], e["from_state"], e["to_state"]) for e in events]
    assert steps == [
        ("enqueued", None, "queued"),
        ("claimed", "queued", "running"),
        ("retry", "running", "queued"),
        ("claimed", "queued", "running"),
        ("succeeded", "running", "succeeded"),
    ]
    assert [e["worker_id"] for e in events[1:]] == ["w-a", "w-a", "w-b", "w-b"]
    assert events[2]["message"] == "boom"
    times = [_time(e["at"]) for e in events]
    assert times == sorted(times)


async def test_events_record_operator_actions(api: Api) -> None:
    task = await api.submit()
    await api.post(f"/tasks/{task['id']}/priority", {"priority": "high"})
    await api.post(f"/tasks/{task['id']}/cancel")
    await api.post(f"/tasks/{task['id']}/retry")
    events = (await api.http.get(f"{API}/tasks/{task['id']}/events")).json()["events"]
    assert [e["kind"] for e in events] == ["enqueued", "priority_changed", "canceled", "requeued"]
    assert [e["to_state"] for e in events] == ["queued", "queued", "canceled", "queued"]


# -- cancel, priority, retry -------------------------------------------------------------


async def test_cancel_waiting_tasks(api: Api) -> None:
    queued = await api.submit()
    scheduled = await api.submit(delay=100)
    for task in (queued, scheduled):
        response = await api.post(f"/tasks/{task['id']}/cancel")
        assert response.status_code == 200
        body = response.json()
        assert body["state"] == "canceled"
        assert body["finished_at"] is not None
        assert (await api.get(task["id"]))["state"] == "canceled"
    assert await api.claim() == []


async def test_cancel_finished_is_409(api: Api) -> None:
    task = await api.submit()
    (claimed,) = await api.claim()
    await api.post(f"/tasks/{task['id']}/complete", {"lease_token": claimed["lease_token"]})
    response = await api.post(f"/tasks/{task['id']}/cancel")
    assert response.status_code == 409
    assert "succeeded" in response.json()["message"]
    assert (await api.get(task["id"]))["state"] == "succeeded"
    # a canceled task cannot be canceled again either
    other = await api.submit()
    await api.post(f"/tasks/{other['id']}/cancel")
    assert (await api.post(f"/tasks/{other['id']}/cancel")).status_code == 409


async def test_cancel_running_requests_cancellation(api: Api) -> None:
    task = await api.submit()
    (claimed,) = await api.claim()
    response = await api.post(f"/tasks/{task['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "running"
    assert response.json()["cancel_requested"] is True
    beat = await api.post(f"/tasks/{task['id']}/heartbeat", {"lease_token": claimed["lease_token"]})
    assert beat.json()["cancel_requested"] is True
    # the worker gives up: a requested cancel wins over a retry
    failed = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": claimed["lease_token"], "error": "stopped"}
    )
    assert failed.status_code == 200
    assert failed.json()["state"] == "canceled"


async def test_set_priority_keeping_enqueue_order(api: Api) -> None:
    a = await api.submit(id="a", priority=20)
    await api.submit(id="b", priority=50)
    await api.submit(id="c", priority=50)
    response = await api.post(f"/tasks/{a['id']}/priority", {"priority": "mid", "to_tail": False})
    assert response.status_code == 200
    assert response.json()["priority"] == 50
    # a was enqueued first, so at the same level it goes before b and c
    assert (await api.get("a"))["position"] == {"in_priority": 1, "in_queue": 1}
    assert [t["id"] for t in await api.claim(max=3)] == ["a", "b", "c"]


async def test_set_priority_to_tail(api: Api) -> None:
    await api.submit(id="a", priority=20)
    await api.submit(id="b", priority=50)
    await api.submit(id="c", priority=50)
    response = await api.post("/tasks/a/priority", {"priority": 50, "to_tail": True})
    assert response.status_code == 200
    assert (await api.get("a"))["position"] == {"in_priority": 3, "in_queue": 3}
    assert [t["id"] for t in await api.claim(max=3)] == ["b", "c", "a"]


async def test_set_priority_lower_moves_behind(api: Api) -> None:
    await api.submit(id="a", priority="high")
    await api.submit(id="b", priority="mid")
    assert (await api.post("/tasks/a/priority", {"priority": "low"})).json()["priority"] == 20
    assert [t["id"] for t in await api.claim(max=2)] == ["b", "a"]


async def test_set_priority_of_scheduled_task(api: Api) -> None:
    task = await api.submit(delay=100)
    response = await api.post(f"/tasks/{task['id']}/priority", {"priority": 99})
    assert response.status_code == 200
    assert response.json()["priority"] == 99
    assert response.json()["state"] == "scheduled"


async def test_set_priority_running_or_final_is_409(api: Api) -> None:
    task = await api.submit()
    (claimed,) = await api.claim()
    response = await api.post(f"/tasks/{task['id']}/priority", {"priority": "high"})
    assert response.status_code == 409
    assert "running" in response.json()["message"]
    assert (await api.get(task["id"]))["priority"] == 20
    await api.post(f"/tasks/{task['id']}/complete", {"lease_token": claimed["lease_token"]})
    assert (await api.post(f"/tasks/{task['id']}/priority", {"priority": 1})).status_code == 409


async def test_set_priority_validates(api: Api) -> None:
    task = await api.submit()
    for bad in (101, -1, "urgent", None, 1.5):
        response = await api.post(f"/tasks/{task['id']}/priority", {"priority": bad})
        assert response.status_code == 422, bad
        assert response.json()["message"]
    assert (await api.get(task["id"]))["priority"] == 20


async def test_retry_failed_task(api: Api) -> None:
    task = await api.submit(max_attempts=1)
    (claimed,) = await api.claim()
    failed = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": claimed["lease_token"], "error": "bad"}
    )
    assert failed.json()["state"] == "failed"
    assert failed.json()["error"] == "bad"
    response = await api.post(f"/tasks/{task['id']}/retry")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "queued"
    assert body["attempt"] == 0
    assert body["error"] is None
    assert body["finished_at"] is None
    (again,) = await api.claim()
    assert again["id"] == task["id"]
    assert again["lease_token"] > claimed["lease_token"]


async def test_retry_canceled_task(api: Api) -> None:
    task = await api.submit()
    await api.post(f"/tasks/{task['id']}/cancel")
    response = await api.post(f"/tasks/{task['id']}/retry")
    assert response.status_code == 200
    assert response.json()["state"] == "queued"


async def test_retry_of_active_or_succeeded_is_409(api: Api) -> None:
    queued = await api.submit()
    response = await api.post(f"/tasks/{queued['id']}/retry")
    assert response.status_code == 409
    assert "queued" in response.json()["message"]
    (claimed,) = await api.claim()
    assert (await api.post(f"/tasks/{queued['id']}/retry")).status_code == 409
    await api.post(f"/tasks/{queued['id']}/complete", {"lease_token": claimed["lease_token"]})
    assert (await api.post(f"/tasks/{queued['id']}/retry")).status_code == 409
    assert (await api.get(queued["id"]))["state"] == "succeeded"
