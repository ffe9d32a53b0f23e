"""Jobs (state derived from their tasks), queues overview, stats and health."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import API, Api


async def _job(api: Api, job_id: str) -> dict[str, Any]:
    response = await api.http.get(f"{API}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _finish(api: Api, task: dict[str, Any], ok: bool = True) -> None:
    if ok:
        body: dict[str, Any] = {"lease_token": task["lease_token"], "result": "done"}
        response = await api.post(f"/tasks/{task['id']}/complete", body)
    else:
        body = {"lease_token": task["lease_token"], "error": "no", "retryable": False}
        response = await api.post(f"/tasks/{task['id']}/fail", body)
    assert response.status_code == 200, response.text


async def test_submit_job(api: Api) -> None:
    body = {
        "name": "nightly-report",
        "tenant": "acme",
        "tasks": [
            {"kind": "fetch", "priority": "high"},
            {"kind": "render", "tenant": "other"},
            {"kind": "send", "queue": "mail"},
        ],
    }
    response = await api.post("/jobs", body)
    assert response.status_code == 201
    job = response.json()
    assert job["name"] == "nightly-report"
    assert job["tenant"] == "acme"
    assert job["state"] == "queued"
    assert job["total"] == 3
    assert job["counts"] == {"queued": 3}
    assert job["created_at"]
    tasks = job["tasks"]
    assert [t["kind"] for t in tasks] == ["fetch", "render", "send"]
    assert all(t["job_id"] == job["id"] for t in tasks)
    # a task's own tenant wins; otherwise it inherits the job's
    assert [t["tenant"] for t in tasks] == ["acme", "other", "acme"]
    assert tasks[0]["priority"] == 80
    assert tasks[2]["queue"] == "mail"
    for t in tasks:
        assert (await api.get(t["id"]))["job_id"] == job["id"]


async def test_job_state_follows_its_tasks(api: Api) -> None:
    job = (await api.post("/jobs", {"name": "j", "tasks": [{"kind": "k"}] * 3})).json()
    job_id = job["id"]
    assert (await _job(api, job_id))["state"] == "queued"

    first, second = await api.claim(max=2)
    summary = await _job(api, job_id)
    assert summary["state"] == "running"
    assert summary["counts"] == {"running": 2, "queued": 1}
    assert summary["total"] == 3

    await _finish(api, first)
    await _finish(api, second)
    summary = await _job(api, job_id)
    assert summary["state"] == "running"  # some done, one still waiting
    assert summary["counts"] == {"succeeded": 2, "queued": 1}

    (third,) = await api.claim()
    await _finish(api, third)
    summary = await _job(api, job_id)
    assert summary["state"] == "succeeded"
    assert summary["counts"] == {"succeeded": 3}
    assert summary["total"] == 3


async def test_job_with_a_failed_task_is_failed(api: Api) -> None:
    job = (await api.post("/jobs", {"name": "j", "tasks": [{"kind": "k"}] * 2})).json()
    a, b = await api.claim(max=2)
    await _finish(api, a)
    await _finish(api, b, ok=False)
    summary = await _job(api, job["id"])
    assert summary["state"] == "failed"
    assert summary["counts"] == {"succeeded": 1, "failed": 1}


async def test_job_all_canceled(api: Api) -> None:
    job = (await api.post("/jobs", {"name": "j", "tasks": [{"kind": "k"}] * 2})).json()
    for t in job["tasks"]:
        assert (await api.post(f"/tasks/{t['id']}/cancel")).status_code == 200
    assert (await _job(api, job["id"]))["state"] == "canceled"


async def test_job_validation(api: Api) -> None:
    assert (await api.post("/jobs", {"name": "empty", "tasks": []})).status_code == 422
    assert (await api.post("/jobs", {"tasks": [{"kind": "k"}]})).status_code == 422
    bad_name = await api.post("/jobs", {"name": "no spaces please", "tasks": [{"kind": "k"}]})
    assert bad_name.status_code == 422
    assert "job name" in bad_name.json()["message"]
    dup = await api.post("/jobs", {"name": "j", "tasks": [{"kind": "k", "id": "x"}] * 2})
    assert dup.status_code == 409
    assert (await api.http.get(f"{API}/stats")).json()["total"] == 0


async def test_queues_overview(api: Api) -> None:
    await api.submit(queue="a", priority="high")
    await api.submit(queue="a", priority="high")
    await api.submit(queue="a", priority="low")
    await api.submit(queue="a", delay=100)
    await api.submit(queue="b", priority=7)
    await api.claim(queues=["b"])
    response = await api.http.get(f"{API}/queues")
    assert response.status_code == 200
    queues = {q["name"]: q for q in response.json()["queues"]}
    assert set(queues) == {"a", "b"}
    assert queues["a"]["states"] == {"queued": 3, "scheduled": 1}
    assert queues["a"]["queued_by_priority"] == {"80": 2, "20": 1}
    assert queues["b"]["states"] == {"running": 1}
    assert queues["b"]["queued_by_priority"] == {}


async def test_stats(api: Api) -> None:
    empty = (await api.http.get(f"{API}/stats")).json()
    assert empty == {"total": 0, "states": {}, "queues": 0, "unroutable": 0}
    await api.submit(queue="a")
    await api.submit(queue="a")
    await api.submit(queue="b", delay=50)
    canceled = await api.submit(queue="c")
    await api.post(f"/tasks/{canceled['id']}/cancel")
    (running,) = await api.claim(queues=["a"])
    stats = (await api.http.get(f"{API}/stats")).json()
    assert stats["total"] == 4
    assert stats["queues"] == 3
    assert stats["states"] == {"queued": 1, "running": 1, "scheduled": 1, "canceled": 1}
    await _finish(api, running)
    assert (await api.http.get(f"{API}/stats")).json()["states"]["succeeded"] == 1


async def test_health(api: Api) -> None:
    response = await api.http.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "leader": False}  # maintenance is off here


async def test_health_reports_a_closed_store_as_503(api: Api) -> None:
    await api.service.close()
    try:
        response = await api.http.get(f"{API}/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        # any other call on a dead store is a 503 with a message too, not a 500
        other = await api.http.get(f"{API}/tasks/x")
        assert other.status_code == 503
        assert other.json()["message"]
    finally:
        await api.service.open()
    assert (await api.http.get(f"{API}/health")).status_code == 200


async def test_openapi_lists_the_native_paths(api: Api) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    for path in (
        "/api/v1/tasks",
        "/api/v1/tasks/batch",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/events",
        "/api/v1/tasks/{task_id}/cancel",
        "/api/v1/tasks/{task_id}/priority",
        "/api/v1/tasks/{task_id}/retry",
        "/api/v1/tasks/{task_id}/heartbeat",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/tasks/{task_id}/fail",
        "/api/v1/workers/{worker_id}/claim",
        "/api/v1/workers/{worker_id}/report",
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/queues",
        "/api/v1/stats",
        "/api/v1/health",
    ):
        assert path in paths, path


async def test_unknown_path_and_method_are_json_errors(api: Api) -> None:
    missing = await api.http.get(f"{API}/nothing")
    assert missing.status_code == 404
    assert missing.json()["message"]
    wrong_method = await api.http.delete(f"{API}/tasks")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["message"]


async def test_a_job_graph_over_http_and_canceling_a_job(api: Api) -> None:
    body = {"name": "g", "tasks": [
        {"name": "a", "kind": "work", "queue": "g"},
        {"name": "b", "kind": "work", "queue": "g", "depends_on": ["a"]},
    ]}  # fmt: skip
    made = await api.http.post("/api/v1/jobs", json=body)
    assert made.status_code == 201, made.text
    tasks = made.json()["tasks"]
    assert [t["state"] for t in tasks] == ["queued", "scheduled"]
    canceled = await api.http.post(f"/api/v1/jobs/{made.json()['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["count"] == 2
    job = (await api.http.get(f"/api/v1/jobs/{made.json()['id']}")).json()
    assert job["state"] == "canceled" and job["counts"] == {"canceled": 2}
    missing = await api.http.post("/api/v1/jobs/nope/cancel")
    assert missing.status_code == 404
    unknown = {"name": "u", "tasks": [{"kind": "work", "depends_on": ["ghost"]}]}
    assert (await api.http.post("/api/v1/jobs", json=unknown)).status_code == 422
