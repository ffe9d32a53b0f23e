"""Workers as entities: registered, seen on claims and heartbeats, listed with their running
tasks, gone after ``worker_silence``; a report's worker must hold the lease; actors in
history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from rota.api import create_app
from rota.backends.sqlite import SQLiteBackend
from rota.config import Settings
from rota.core.clock import ManualClock
from rota.service import Service
from tests.api.conftest import API, Api, make_settings

WORKER = {
    "name": "host-1-42",
    "host": "host-1",
    "queues": ["default"],
    "capabilities": ["gpu"],
    "concurrency": 4,
    "version": "0.1.0",
}


@pytest.fixture
def settings() -> Settings:
    return make_settings(worker_silence=60.0)


async def _workers(api: Api) -> list[dict[str, Any]]:
    response = await api.http.get(f"{API}/workers")
    assert response.status_code == 200, response.text
    workers: list[dict[str, Any]] = response.json()["workers"]
    return workers


async def test_a_registered_worker_is_listed_with_its_running_tasks(api: Api) -> None:
    response = await api.http.put(f"{API}/workers/w-1", json=WORKER)
    assert response.status_code == 200, response.text
    assert await api.http.put(f"{API}/workers/w-2", json={**WORKER, "queues": None})
    task = await api.submit(kind="echo")
    await api.submit(kind="echo", queue="other")
    (claimed,) = await api.claim("w-1", max=1, queues=["default"])
    assert claimed["id"] == task["id"]

    listed = {w["id"]: w for w in await _workers(api)}
    assert set(listed) == {"w-1", "w-2"}
    one = listed["w-1"]
    assert {k: one[k] for k in WORKER} == WORKER
    assert [r["id"] for r in one["running"]] == [task["id"]]
    assert listed["w-2"]["running"] == [] and listed["w-2"]["queues"] is None
    assert one["last_seen_at"] >= one["started_at"]


async def test_registration_input_is_checked(api: Api) -> None:
    bad = await api.http.put(f"{API}/workers/w-1", json={**WORKER, "concurrency": 0})
    assert bad.status_code == 422
    unknown = await api.http.put(f"{API}/workers/w-1", json={**WORKER, "colour": "red"})
    assert unknown.status_code == 422
    assert await _workers(api) == []


async def test_a_silent_worker_leaves_the_list(tmp_path: Path) -> None:
    clock = ManualClock()
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(worker_silence=60.0), clock)
    await service.open()
    try:
        app = create_app(service, maintenance=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await http.put(f"{API}/workers/quiet", json=WORKER)
            await http.put(f"{API}/workers/busy", json=WORKER)
            clock.advance(50)
            await service.claim("busy")  # any claim counts as contact
            clock.advance(20)  # quiet: 70 s silent; busy: 20 s
            listed = (await http.get(f"{API}/workers")).json()["workers"]
            assert [w["id"] for w in listed] == ["busy"]
            assert await service.sweep() >= 1  # the reaper forgets it for good
            assert [w.id for w in await service.backend.worker_list()] == ["busy"]
    finally:
        await service.close()


async def test_a_report_from_another_worker_is_refused(api: Api) -> None:
    await api.submit(id="t1")
    (claimed,) = await api.claim("w-1")
    item = {"id": "t1", "lease_token": claimed["lease_token"], "result": "forged"}
    forged = await api.post("/workers/w-2/report", {"completions": [item]})
    assert forged.status_code == 200
    (result,) = forged.json()["results"]
    assert result["status"] == 409
    assert result["message"] == "task t1 is not leased to worker 'w-2'"
    assert (await api.get("t1"))["state"] == "running"

    item["result"] = "real"
    real = await api.post("/workers/w-1/report", {"completions": [item]})
    assert real.json()["results"] == [{"id": "t1", "status": 200}]
    done = await api.get("t1")
    assert (done["state"], done["result"]) == ("succeeded", "real")


async def test_history_names_the_actor_of_each_change(api: Api) -> None:
    await api.submit(id="a")
    await api.submit(id="b")
    await api.claim("w-9", max=1)
    assert (await api.post("/tasks/b/cancel")).status_code == 200
    a_events = (await api.http.get(f"{API}/tasks/a/events")).json()["events"]
    assert [(e["kind"], e["actor"]) for e in a_events] == [
        ("enqueued", None),
        ("claimed", "worker:w-9"),
    ]
    b_events = (await api.http.get(f"{API}/tasks/b/events")).json()["events"]
    assert (b_events[-1]["kind"], b_events[-1]["actor"]) == ("canceled", "api")
