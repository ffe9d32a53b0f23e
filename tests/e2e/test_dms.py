"""DMS Scheduler's API, walked against a live `rota serve --compat dms` on SQLite and on
Redis: submit rules, position, overview, the submitter loop, priority moves, the block, and
the stats."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import new_redis_store
from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow
OP = {"X-DMS-Operator-Token": "dms-operator-secret"}


@pytest.fixture(params=["sqlite", "redis"])
def dms(procs: Procs, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    if request.param == "redis":
        procs.env["ROTA_DATABASE_URL"] = new_redis_store()
    procs.env["DMS_OPERATOR_TOKEN"] = OP["X-DMS-Operator-Token"]
    procs.env["ROTA_COMPAT"] = "dms"
    procs.serve()
    with httpx.Client(base_url=procs.url, timeout=10) as client:
        yield client


def task(task_id: str, priority: str = "low") -> dict[str, object]:
    return {"task_id": task_id, "service": "copy", "user_id": "u1",
            "parameters": {"src": "a", "dst": "b"}, "priority": priority}  # fmt: skip


def test_the_dms_api_behaves_as_dms_does(dms: httpx.Client) -> None:
    # the submitter loop on an empty queue: 204 with an empty body
    empty = dms.post("/submitter/next")
    assert (empty.status_code, empty.content) == (204, b"")

    # anyone submits at low; mid and high need the operator token
    made = dms.post("/tasks", json=task("t-low-1"))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "queued" and made.json()["priority"] == "low"
    assert dms.post("/tasks", json=task("t-high-x", "high")).status_code == 403
    assert dms.post("/tasks", json=task("t-high-1", "high"), headers=OP).status_code == 201
    assert dms.post("/tasks", json=task("t-mid-1", "mid"), headers=OP).status_code == 201
    assert dms.post("/tasks", json=task("t-low-2")).status_code == 201
    assert dms.post("/tasks", json=task("t-low-1")).status_code == 409  # duplicate id

    # position and overview, 1-based
    shown = dms.get("/tasks/t-low-2").json()
    assert shown["queue_position"] == {
        "priority": "low", "position_in_priority": 2, "global_position": 4,
    }  # fmt: skip
    assert shown["overview"] == {"total": 4, "high": 1, "mid": 1, "low": 2}
    assert dms.get("/queues/overview").json() == shown["overview"]
    assert dms.get("/tasks/nope").status_code == 404

    # an operator moves a queued task: to the tail of its new level
    assert (
        dms.post("/admin/priority", json={"task_id": "t-low-2", "priority": "high"}).status_code
        == 403
    )
    moved = dms.post("/admin/priority", json={"task_id": "t-low-2", "priority": "high"}, headers=OP)
    assert moved.status_code == 200 and moved.json()["priority"] == "high"

    # cancel is idempotent; unknown is 404
    assert dms.post("/tasks/cancel", json={"task_id": "t-mid-1"}).json()["status"] == "canceled"
    assert dms.post("/tasks/cancel", json={"task_id": "t-mid-1"}).status_code == 200
    assert dms.post("/tasks/cancel", json={"task_id": "nope"}).status_code == 404

    # the submitter pulls in strict priority order, FIFO within a level, then 204
    pulled = []
    while (answer := dms.post("/submitter/next")).status_code == 200:
        pulled.append(answer.json()["task_id"])
        assert answer.json()["status"] == "dispatched"
    assert answer.status_code == 204
    assert pulled == ["t-high-1", "t-low-2", "t-low-1"]
    assert dms.get("/tasks/t-high-1").json()["queue_position"] is None
    moving = {"task_id": "t-high-1", "priority": "low"}
    assert dms.post("/admin/priority", json=moving, headers=OP).status_code == 400  # not queued

    # the block: refused submits are 503, reads still work
    assert dms.get("/admin/block").status_code == 403
    assert dms.post("/admin/block", json={"reason": "maintenance"}, headers=OP).status_code == 200
    assert dms.get("/admin/block", headers=OP).json()["blocked"] is True
    assert dms.post("/tasks", json=task("t-blocked")).status_code == 503
    assert dms.post("/admin/resume", headers=OP).json()["blocked"] is False
    assert dms.post("/tasks", json=task("t-after")).status_code == 201

    stats = dms.get("/stats").json()
    assert (stats["queued"], stats["dispatched"], stats["canceled"]) == (5, 3, 1)
    assert stats["queue_overview"] == {"total": 1, "high": 0, "mid": 0, "low": 1}
    assert dms.get("/healthz").json() == {"status": "ok"}

    # the operator's actions are in rota's audit log, by the DMS operator
    log = dms.get("/api/v1/audit", params={"actor": "dms-operator"}).json()["entries"]
    assert [(e["action"], e["target"]) for e in log] == [
        ("intake.resume", "dms"), ("intake.block", "dms"), ("task.priority", "t-low-2"),
    ]  # fmt: skip
    assert log[1]["reason"] == "maintenance"
