"""The operator commands against a live `rota serve`: bulk changes by filter, a dispatch
pause, and the audit log that records them."""

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
