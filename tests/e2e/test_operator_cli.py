"""The operator commands against a live `rota serve`: bulk changes by filter, a dispatch
pause, a tenant disabled, and the audit log that records them."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow


def test_operator_commands(procs: Procs) -> None:
    procs.serve()
    for _ in range(3):
        procs.cli("submit", "echo", "--queue", "media", "--priority", "low")
    assert "changed 3 task(s)" in procs.cli("bulk", "priority", "high", "--queue", "media")
    assert "paused media" in procs.cli("dispatch", "pause", "--queue", "media", "--reason", "bug")
    assert "media: bug" in procs.cli("dispatch", "status")
    with httpx.Client(base_url=procs.url) as http:
        claim = http.post("/api/v1/workers/w/claim", json={"max": 5})
        assert claim.status_code == 204  # paused: nothing handed out
        tasks = http.get("/api/v1/tasks", params={"queue": "media"}).json()["tasks"]
        assert {t["priority"] for t in tasks} == {80}
    assert "canceled 2 task(s)" in procs.cli("bulk", "cancel", "--queue", "media", "--limit", "2")
    assert "resumed media" in procs.cli("dispatch", "resume", "--queue", "media")
    log = procs.cli("audit")
    for action in ("tasks.priority", "dispatch.pause", "tasks.cancel", "dispatch.resume"):
        assert action in log
    assert "tasks.cancel" not in procs.cli("audit", "--action", "dispatch.pause")


def test_tenant_commands(procs: Procs) -> None:
    procs.serve()
    with httpx.Client(base_url=procs.url) as http:
        for _ in range(2):
            assert http.post("/api/v1/tasks", json={"kind": "echo", "tenant": "acme"}).is_success
    out = procs.cli("tenant", "disable", "acme", "--reason", "unpaid", "--cancel")
    assert "disabled acme: unpaid; canceled 2 waiting tasks" in out
    assert "acme: unpaid" in procs.cli("tenant", "status")
    with httpx.Client(base_url=procs.url) as http:
        refused = http.post("/api/v1/tasks", json={"kind": "echo", "tenant": "acme"})
        assert refused.status_code == 503
        states = http.get("/api/v1/stats").json()["states"]
        assert states == {"canceled": 2}
    assert "enabled acme" in procs.cli("tenant", "enable", "acme")
    assert "every tenant is scheduling" in procs.cli("tenant", "status")
    log = procs.cli("audit", "--action", "tenant.disable")
    assert "tenant.disable" in log and "acme" in log


def test_schedule_commands(procs: Procs) -> None:
    """A live server's leader makes the tasks of a schedule added from the CLI."""
    procs.serve()
    out = procs.cli("schedule", "add", "tick", "--kind", "echo", "--queue", "ticks",
                    "--interval", "1")  # fmt: skip
    assert "schedule " in out and "next run" in out
    schedule_id = out.split()[1]
    assert "tick" in procs.cli("schedule", "list")
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=procs.url) as http:
        while time.monotonic() < deadline:
            tasks = http.get("/api/v1/tasks", params={"queue": "ticks"}).json()["tasks"]
            if len(tasks) >= 2:
                break
            time.sleep(0.2)
        assert len(tasks) >= 2, tasks
        assert {t["schedule_id"] for t in tasks} == {schedule_id}
        times = sorted(t["scheduled_for"] for t in tasks)
        assert len(set(times)) == len(times)  # one task per occurrence
    assert f"paused {schedule_id}" in procs.cli("schedule", "pause", schedule_id)
    assert f"deleted {schedule_id}" in procs.cli("schedule", "delete", schedule_id)
    assert "no schedules" in procs.cli("schedule", "list")
