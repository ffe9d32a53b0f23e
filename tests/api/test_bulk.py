"""Bulk operator actions over HTTP: by filter, audited, and refused whole on bad input."""

from __future__ import annotations

from tests.api.conftest import Api


async def test_cancel_and_reprioritize_by_filter(api: Api) -> None:
    post = api.http.post
    ids = [(await post("/api/v1/tasks", json={"kind": "k", "queue": "q"})).json()["id"]
           for _ in range(3)]  # fmt: skip
    keep = (await post("/api/v1/tasks", json={"kind": "k", "queue": "keep"})).json()["id"]
    moved = await post("/api/v1/admin/tasks/priority", json={"queue": "q", "priority": "high"})
    assert moved.json() == {"changed": ids, "count": 3}
    assert (await api.http.get(f"/api/v1/tasks/{ids[0]}")).json()["priority"] == 80
    canceled = await post("/api/v1/admin/tasks/cancel", json={"queue": "q", "limit": 2},
                          headers={"X-Rota-Reason": "bad deploy"})  # fmt: skip
    assert canceled.json() == {"canceled": ids[1:], "count": 2}  # the newest two
    assert (await api.http.get(f"/api/v1/tasks/{keep}")).json()["state"] == "queued"

    log = (await api.http.get("/api/v1/audit")).json()["entries"]
    assert [(e["action"], e["detail"]["count"]) for e in log] == [
        ("tasks.cancel", 2), ("tasks.priority", 3),
    ]  # fmt: skip
    assert log[0]["reason"] == "bad deploy" and log[0]["detail"]["filter"] == {"queue": "q"}
    assert log[1]["detail"]["priority"] == 80


async def test_a_bad_priority_changes_nothing(api: Api) -> None:
    made = (await api.http.post("/api/v1/tasks", json={"kind": "k", "priority": 5})).json()
    bad = await api.http.post("/api/v1/admin/tasks/priority", json={"priority": "HIGH"})
    assert bad.status_code == 422
    assert (await api.http.get(f"/api/v1/tasks/{made['id']}")).json()["priority"] == 5
    assert (await api.http.get("/api/v1/audit")).json()["entries"] == []
