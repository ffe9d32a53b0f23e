"""The operator commands against a live `rota serve`: bulk changes by filter, a dispatch
pause, a tenant disabled, and the audit log that records them."""

from __future__ import annotations

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
