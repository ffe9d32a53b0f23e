"""The cd scheduler's API (ROTA_COMPAT=cd), with the clock under the test's control: jobs,
the worker loop, retry once, and the 30 s timeout ending in FAILED with its message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rota.api import create_app
from rota.backends.sqlite import SQLiteBackend
from rota.core.clock import ManualClock
from rota.service import Service
from tests.api.conftest import BASE_URL, make_settings


@pytest.fixture
async def cd(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Service, ManualClock]]:
    clock = ManualClock()
    settings = make_settings(compat="cd", timeout_grace=5.0, lease_seconds=300.0)
    service = Service(SQLiteBackend(tmp_path / "t.db"), settings, clock)
    await service.open()
    app = create_app(service, maintenance=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http, service, clock
    await service.close()


async def test_a_job_runs_and_completes(cd: tuple[httpx.AsyncClient, Service, ManualClock]) -> None:
    http, _, _ = cd
    assert (await http.get("/next-job", params={"worker_id": "w1"})).status_code == 204
    low = (
        await http.post("/jobs", json={"job_type": "sleep", "payload": {"s": 1}, "priority": 2})
    ).json()
    high = (await http.post("/jobs", json={"job_type": "sleep", "priority": 9})).json()
    assert (low["state"], low["attempts"], low["max_attempts"]) == ("PENDING", 0, 2)
    claimed = (await http.get("/next-job", params={"worker_id": "w1"})).json()
    assert (claimed["id"], claimed["state"], claimed["assigned_worker_id"]) == (
        high["id"],
        "RUNNING",
        "w1",
    )
    done = await http.post(f"/jobs/{high['id']}/complete", json={"success": True})
    assert done.json()["state"] == "COMPLETED" and done.json()["completed_at"] is not None
    again = await http.post(f"/jobs/{high['id']}/complete", json={"success": True})
    assert again.status_code == 409
    assert (await http.get(f"/jobs/{low['id']}")).json()["state"] == "PENDING"
    assert (await http.post("/jobs", json={"job_type": "sleep", "priority": 11})).status_code == 422
    assert (await http.get("/jobs/nope")).status_code == 404


async def test_a_failure_is_retried_once_then_failed(
    cd: tuple[httpx.AsyncClient, Service, ManualClock],
) -> None:
    http, _, _ = cd
    job = (await http.post("/jobs", json={"job_type": "copy"})).json()
    for attempt, after in ((1, "PENDING"), (2, "FAILED")):
        claimed = (await http.get("/next-job", params={"worker_id": "w1"})).json()
        assert (claimed["id"], claimed["attempts"]) == (job["id"], attempt)
        body = {"success": False, "error_message": f"disk full {attempt}"}
        failed = (await http.post(f"/jobs/{job['id']}/complete", json=body)).json()
        assert (failed["state"], failed["last_error"]) == (after, f"disk full {attempt}")
    assert (await http.get("/next-job", params={"worker_id": "w1"})).status_code == 204


async def test_a_job_running_past_the_timeout_is_retried_once_then_failed(
    cd: tuple[httpx.AsyncClient, Service, ManualClock],
) -> None:
    http, service, clock = cd
    job = (await http.post("/jobs", json={"job_type": "copy"})).json()
    for attempt, after in ((1, "PENDING"), (2, "FAILED")):
        claimed = (await http.get("/next-job", params={"worker_id": "w1"})).json()
        assert claimed["attempts"] == attempt
        clock.advance(30 + 5 - 1)  # the timeout and the sweeper's grace: not yet
        await service.sweep()
        assert (await http.get(f"/jobs/{job['id']}")).json()["state"] == "RUNNING"
        clock.advance(2)
        await service.sweep()
        shown = (await http.get(f"/jobs/{job['id']}")).json()
        assert shown["state"] == after
        assert shown["last_error"] == "timeout: still running after 30.0s"
    late = await http.post(f"/jobs/{job['id']}/complete", json={"success": True})
    assert late.status_code == 409  # a worker back after the end changes nothing
    assert (await http.get(f"/jobs/{job['id']}")).json()["state"] == "FAILED"
