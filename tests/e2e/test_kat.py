"""KAT's scheduler API (mula, end of 2023), walked against a live ``rota serve`` with
``ROTA_COMPAT=kat`` on SQLite, PostgreSQL and Redis: pop order, priority updates by re-push,
the full queue, disabling a scheduler, the empty pop's latency, /tasks pagination, a push
without Content-Type, a filtered pop past the head, the runner's status reports, and mula's
404s and 400s.

One server per store serves the whole module; each test uses its own schedulers."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store
from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow
ORGS = ("order", "reprio", "full", "off", "empty", "page", "run", "errs", "filter")
SCHEDULERS = ",".join([f"boefje-{org}" for org in ORGS] + ["normalizer-order", "normalizer-run"])


@pytest.fixture(scope="module", params=["sqlite", "postgres", "redis"])
def kat(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    procs = Procs(tmp_path_factory.mktemp(f"kat-{request.param}"))
    url = None
    if request.param == "postgres":
        url = procs.env["ROTA_DATABASE_URL"] = new_pg_schema()
    elif request.param == "redis":
        url = procs.env["ROTA_DATABASE_URL"] = new_redis_store()
    procs.env["ROTA_COMPAT"] = "kat"
    procs.env["ROTA_KAT_SCHEDULERS"] = SCHEDULERS
    try:
        procs.serve()
        with httpx.Client(base_url=procs.url, timeout=10) as client:
            yield client
    finally:
        procs.stop_all()
        if url is not None:
            (drop_pg_schema if request.param == "postgres" else drop_redis_store)(url)


def boefje(org: str, ooi: str, plugin: str = "dns-records") -> dict[str, Any]:
    """A task as rocky sends it: no id, a ``type`` mula drops."""
    return {"boefje": {"id": plugin, "name": None, "version": None}, "input_ooi": ooi,
            "organization": org, "type": "boefje"}  # fmt: skip


def normalizer(org: str, boefje_meta_id: str) -> dict[str, Any]:
    meta = {"id": boefje_meta_id, "boefje": {"id": "dns-records"}, "input_ooi": "Hostname|a",
            "arguments": {}, "organization": org, "started_at": "2023-12-01T10:00:00Z",
            "ended_at": "2023-12-01T10:00:05Z"}  # fmt: skip
    raw = {"id": "9c2e4b4e-5a43-4f3c-9d0b-0e1d6c1f5a11", "boefje_meta": meta,
           "mime_types": [{"value": "boefje/dns-records"}], "secure_hash": None,
           "hash_retrieval_link": None}  # fmt: skip
    return {"normalizer": {"id": "kat_dns_normalize"}, "raw_data": raw}


def push(kat: httpx.Client, queue: str, priority: Any, data: Any) -> httpx.Response:
    """As rocky pushes: ``PrioritizedItem.json()`` as the body, with no Content-Type."""
    body = orjson.dumps({"hash": None, "priority": priority, "data": data})
    request = kat.build_request("POST", f"/queues/{queue}/push", content=body)
    assert "content-type" not in request.headers
    return kat.send(request)


def pop(kat: httpx.Client, queue: str) -> Any:
    answer = kat.post(f"/queues/{queue}/pop")
    assert answer.status_code == 200, answer.text
    return answer.json()


def drain(kat: httpx.Client, queue: str) -> list[dict[str, Any]]:
    popped = []
    while (item := pop(kat, queue)) is not None:
        popped.append(item)
    return popped


def test_pop_order_is_strict_by_priority_then_age(kat: httpx.Client) -> None:
    rng = random.Random(19)
    priorities = [rng.choice([1, 2, 3, 3, 50, 857, 1000, 1_700_000_000]) for _ in range(100)]
    rng.shuffle(priorities)
    pushed = []
    for i, p in enumerate(priorities):
        answer = push(kat, "boefje-order", p, boefje("order", f"Hostname|h{i}"))
        assert answer.status_code == 201, answer.text
        item = answer.json()
        assert item["priority"] == p and item["id"] == item["data"]["id"]
        assert len(item["hash"]) == 32 and item["data"]["organization"] == "order"
        assert "type" not in item["data"]
        pushed.append((p, i, item["id"]))
    queue = kat.get("/queues/boefje-order").json()
    assert (queue["size"], queue["item_type"]) == (100, "BoefjeTask")
    expected = [task_id for _, _, task_id in sorted(pushed)]
    assert [i["id"] for i in queue["pq"]] == expected  # pq lists the pop order
    popped = drain(kat, "boefje-order")
    assert [i["id"] for i in popped] == expected
    assert [i["priority"] for i in popped] == sorted(priorities)
    assert kat.get(f"/tasks/{popped[0]['id']}").json()["status"] == "dispatched"


def test_a_filtered_pop_takes_the_first_match_past_the_head(kat: httpx.Client) -> None:
    def by_plugin(plugin: str) -> dict[str, Any]:
        return {"filters": [{"column": "data", "field": "boefje__id", "operator": "==",
                             "value": plugin}]}  # fmt: skip

    queue = "boefje-filter"
    assert kat.post(f"/queues/{queue}/pop", json=by_plugin("nmap")).json() is None  # empty
    ids = [
        push(kat, queue, priority, boefje("filter", f"Hostname|{name}", plugin)).json()["id"]
        for priority, name, plugin in ((9, "c", "nmap"), (5, "a", "dns-records"),
                                       (7, "b", "nmap"), (8, "d", "dns-records"))
    ]  # fmt: skip
    c, a, b, d = ids
    assert [i["id"] for i in kat.get(f"/queues/{queue}").json()["pq"]] == [a, b, d, c]
    first = kat.post(f"/queues/{queue}/pop", json=by_plugin("nmap"))
    assert first.status_code == 200, first.text
    assert first.json()["id"] == b  # the first nmap in pop order, behind the head a
    assert kat.get(f"/tasks/{b}").json()["status"] == "dispatched"
    assert kat.get(f"/tasks/{a}").json()["status"] == "queued"
    assert [i["id"] for i in kat.get(f"/queues/{queue}").json()["pq"]] == [a, d, c]
    assert kat.post(f"/queues/{queue}/pop", json=by_plugin("nmap")).json()["id"] == c
    none_left = kat.post(f"/queues/{queue}/pop", json=by_plugin("nmap"))
    assert none_left.status_code == 404, none_left.text
    assert none_left.json()["detail"] == "could not pop item from queue, check your filters"
    assert [i["id"] for i in drain(kat, queue)] == [a, d]  # the rest, as they were


def test_normalizer_pushes_and_pops_oldest_raw_data_order(kat: httpx.Client) -> None:
    first = push(kat, "normalizer-order", 1_701_424_805, normalizer("order", str(_uuid(1))))
    second = push(kat, "normalizer-order", 1_701_424_800, normalizer("order", str(_uuid(2))))
    assert first.status_code == second.status_code == 201, first.text
    again = push(kat, "normalizer-order", 1_701_424_805, normalizer("order", str(_uuid(1))))
    assert again.status_code == 409
    assert [i["id"] for i in drain(kat, "normalizer-order")] == [
        second.json()["id"], first.json()["id"],
    ]  # fmt: skip
    shown = kat.get(f"/tasks/{first.json()['id']}").json()
    assert shown["type"] == "normalizer" and shown["scheduler_id"] == "normalizer-order"
    meta = shown["p_item"]["data"]["raw_data"]["boefje_meta"]
    assert meta["organization"] == "order"


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def test_a_re_push_updates_the_priority_and_a_same_priority_one_is_409(
    kat: httpx.Client,
) -> None:
    a = push(kat, "boefje-reprio", 500, boefje("reprio", "Hostname|a")).json()
    b = push(kat, "boefje-reprio", 400, boefje("reprio", "Hostname|b")).json()
    # rocky's reschedule: the same job, no id, a new priority: the queued item moves
    moved = push(kat, "boefje-reprio", 10, boefje("reprio", "Hostname|a"))
    assert moved.status_code == 201, moved.text
    assert (moved.json()["id"], moved.json()["priority"]) == (a["id"], 10)
    refused = push(kat, "boefje-reprio", 10, boefje("reprio", "Hostname|a"))
    assert refused.status_code == 409 and refused.headers["retry-after"] == "60"
    assert refused.json()["detail"].startswith("Item already on queue")
    assert kat.get("/queues/boefje-reprio").json()["size"] == 2
    assert [i["id"] for i in drain(kat, "boefje-reprio")] == [a["id"], b["id"]]
    # popped, the job is no longer on the queue: the same push is a new item
    again = push(kat, "boefje-reprio", 10, boefje("reprio", "Hostname|a"))
    assert again.status_code == 201 and again.json()["id"] != a["id"]


def test_a_full_queue_is_429_and_priority_1_still_goes_in(kat: httpx.Client) -> None:
    patched = kat.patch("/schedulers/boefje-full", json={"priority_queue": {"maxsize": 3}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["priority_queue"]["maxsize"] == 3
    for i in range(3):
        assert push(kat, "boefje-full", 5, boefje("full", f"Hostname|{i}")).status_code == 201
    full = push(kat, "boefje-full", 5, boefje("full", "Hostname|x"))
    assert (full.status_code, full.json()) == (429, {"detail": "queue is full"})
    user = push(kat, "boefje-full", 1, boefje("full", "Hostname|x"))
    assert user.status_code == 201, user.text
    assert pop(kat, "boefje-full")["id"] == user.json()["id"]
    # the flags live in the queue's on_conflict: rota's own PATCH changes them too
    native = kat.patch("/api/v1/queues/boefje-full", json={"on_conflict": "reject"})
    assert native.status_code == 200, native.text
    pq = kat.get("/schedulers/boefje-full").json()["priority_queue"]
    assert (pq["allow_replace"], pq["allow_updates"], pq["allow_priority_updates"]) == (
        False, False, False,
    )  # fmt: skip
    flags = {"allow_updates": True, "allow_priority_updates": True}
    patched = kat.patch("/schedulers/boefje-full", json={"priority_queue": flags})
    assert patched.json()["priority_queue"]["allow_updates"] is True
    queue = kat.get("/api/v1/queues/boefje-full").json()
    assert (queue["on_conflict"], queue["max_size"]) == ("update", 3), queue


def test_a_disabled_scheduler_refuses_pushes_and_cancels_its_queued_tasks(
    kat: httpx.Client,
) -> None:
    ids = [push(kat, "boefje-off", 5, boefje("off", f"Hostname|{i}")).json()["id"]
           for i in range(3)]  # fmt: skip
    off = kat.patch("/schedulers/boefje-off", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["priority_queue"]["qsize"] == 0
    assert {kat.get(f"/tasks/{i}").json()["status"] for i in ids} == {"cancelled"}
    refused = push(kat, "boefje-off", 5, boefje("off", "Hostname|new"))
    assert (refused.status_code, refused.json()) == (409, {"detail": "Scheduler is disabled"})
    assert refused.headers["retry-after"] == "60"
    assert pop(kat, "boefje-off") is None
    on = kat.patch("/schedulers/boefje-off", json={"enabled": True})
    assert on.json()["enabled"] is True
    assert push(kat, "boefje-off", 5, boefje("off", "Hostname|new")).status_code == 201


def test_an_empty_pop_answers_null_within_50_ms(kat: httpx.Client) -> None:
    pop(kat, "boefje-empty")  # warm the connection
    took = []
    for _ in range(10):
        start = time.perf_counter()
        assert pop(kat, "boefje-empty") is None
        took.append(time.perf_counter() - start)
    assert statistics.median(took) < 0.05, took
    assert kat.get("/queues/boefje-empty/pop").json() is None  # older clients' GET


def test_tasks_paginate_with_next_and_previous(kat: httpx.Client) -> None:
    made = [push(kat, "boefje-page", 7, boefje("page", f"Hostname|{i}")).json()["id"]
            for i in range(25)]  # fmt: skip
    newest_first = made[::-1]
    base = {"scheduler_id": "boefje-page", "type": "boefje"}
    counted = kat.get("/tasks", params={**base, "limit": 0}).json()
    assert (counted["count"], counted["results"], counted["next"]) == (25, [], None)
    page = kat.get("/tasks", params={**base, "limit": 10}).json()
    assert page["count"] == 25 and page["previous"] is None
    assert [t["id"] for t in page["results"]] == newest_first[:10]
    assert page["next"].startswith("http://127.0.0.1:")
    assert page["next"].endswith("/tasks?scheduler_id=boefje-page&type=boefje&limit=10&offset=10")
    second = kat.get(page["next"]).json()
    assert [t["id"] for t in second["results"]] == newest_first[10:20]
    third = kat.get(second["next"]).json()
    assert [t["id"] for t in third["results"]] == newest_first[20:]
    assert third["next"] is None  # offset + limit == count: no link to an empty page
    assert third["previous"].endswith("limit=10&offset=10")
    inside = kat.get("/tasks", params={**base, "limit": 10, "offset": 5}).json()
    assert inside["previous"].endswith("limit=10&offset=0")  # mula: null here
    assert [t["id"] for t in inside["results"]] == newest_first[5:15]
    assert kat.get("/tasks", params={**base, "status": "queued", "limit": 0}).json()["count"] == 25
    since = {**base, "min_created_at": "2023-12-01 00:00:00", "limit": 0}
    assert kat.get("/tasks", params=since).json()["count"] == 25
    later = {**base, "max_created_at": "2023-12-01T00:00:00+00:00", "limit": 0}
    assert kat.get("/tasks", params=later).json()["count"] == 0
    assert kat.get("/tasks", params={**base, "type": "normalizer", "limit": 0}).json()[
        "count"
    ] == 0  # fmt: skip


def test_the_runner_flow_reports_statuses_as_mula_names_them(kat: httpx.Client) -> None:
    done = push(kat, "boefje-run", 3, boefje("run", "Hostname|ok")).json()["id"]
    bad = push(kat, "boefje-run", 4, boefje("run", "Hostname|bad")).json()["id"]
    assert kat.get(f"/tasks/{done}").json()["status"] == "queued"
    queues = kat.get("/queues").json()
    sizes = {q["id"]: q["size"] for q in queues}
    assert sizes["boefje-run"] == 2
    item = pop(kat, "boefje-run")
    assert item["id"] == done and set(item) >= {"id", "priority", "data", "hash"}
    assert kat.get(f"/tasks/{done}").json()["status"] == "dispatched"
    leased = kat.get(f"/api/v1/tasks/{done}").json()["lease_expires_at"]  # the native view
    left = datetime.fromisoformat(leased.replace("Z", "+00:00")) - datetime.now(UTC)
    assert left > timedelta(hours=23)  # a day, ROTA_KAT_LEASE_SECONDS: runners report at the end
    running = kat.patch(f"/tasks/{done}", json={"status": "running"})
    assert running.status_code == 200 and running.json()["status"] == "running"
    listed = kat.get("/tasks", params={"scheduler_id": "boefje-run", "status": "running"}).json()
    assert [t["id"] for t in listed["results"]] == [done]
    completed = kat.patch(f"/tasks/{done}", json={"status": "completed"})
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert "lease" not in completed.text
    assert pop(kat, "boefje-run")["id"] == bad
    failed = kat.patch(f"/tasks/{bad}", content=b'{"status": "failed"}')  # no Content-Type
    assert failed.json()["status"] == "failed"
    stats = kat.get("/tasks/stats/boefje-run").json()
    hour = stats[max(stats)]
    assert hour["completed"] >= 1 and hour["failed"] >= 1 and hour["total"] >= 2
    assert set(hour) == {"pending", "queued", "dispatched", "running", "completed", "failed",
                         "cancelled", "total"}  # fmt: skip
    cancel = push(kat, "boefje-run", 3, boefje("run", "Hostname|never")).json()["id"]
    assert kat.patch(f"/tasks/{cancel}", json={"status": "cancelled"}).json()["status"] == (
        "cancelled"
    )
    health = kat.get("/health").json()
    assert health["service"] == "scheduler" and health["healthy"] is True


def test_mulas_404s_and_400s(kat: httpx.Client) -> None:
    def detail(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        message: str = response.json()["detail"]
        return message

    good = boefje("errs", "Hostname|e")
    assert detail(push(kat, "boefje-nope", 5, good), 404) == "queue not found"
    assert detail(kat.post("/queues/boefje-nope/pop"), 404) == "queue not found"
    assert detail(kat.get("/queues/boefje-nope"), 404) == "queue not found"
    assert detail(kat.get("/schedulers/boefje-nope"), 404) == "scheduler not found"
    assert detail(kat.patch("/schedulers/boefje-nope", json={"enabled": True}), 404) == (
        "scheduler not found"
    )
    assert detail(kat.get("/tasks/no-such-task"), 404) == "task not found"
    assert detail(kat.patch("/tasks/no-such-task", json={"status": "failed"}), 404) == (
        "task not found"
    )
    for priority in (0, -3, None, "high", 2**31):
        assert detail(push(kat, "boefje-errs", priority, good), 400) == "malformed item"
    for data in ({"input_ooi": "x", "organization": "errs"}, "text", None,
                 boefje("another-org", "Hostname|e")):  # fmt: skip
        assert detail(push(kat, "boefje-errs", 5, data), 400) == "malformed item"
    made = push(kat, "boefje-errs", 5, good).json()["id"]
    assert detail(kat.patch(f"/tasks/{made}", json={}), 400) == "no data to patch"
    assert detail(kat.patch("/schedulers/boefje-errs", json={}), 400) == "no data to patch"
    assert kat.patch(f"/tasks/{made}", json={"status": "completed"}).status_code == 409
    like = {"filters": [{"column": "data", "field": "input_ooi", "operator": "like",
                         "value": "x%"}]}  # fmt: skip
    assert "not supported" in detail(kat.post("/queues/boefje-errs/pop", json=like), 400)
    other = {"filters": [{"column": "data", "field": "input_ooi", "operator": "==",
                          "value": "Hostname|zzz"}]}  # fmt: skip
    assert detail(kat.post("/queues/boefje-errs/pop", json=other), 404) == (
        "could not pop item from queue, check your filters"
    )
    mine = {"filters": [{"column": "data", "field": "boefje__id", "operator": "in",
                         "value": ["dns-records"]}]}  # fmt: skip
    assert kat.post("/queues/boefje-errs/pop", json=mine).json()["id"] == made
    assert detail(kat.get("/tasks", params={"status": "nope"}), 400).startswith("status")
    assert kat.get("/tasks", params={"min_created_at": "yesterday"}).status_code == 400
