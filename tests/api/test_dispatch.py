"""Pausing a queue's dispatch over HTTP: submits still go in, claims skip the queue until
it is resumed, and both actions are in the audit log."""

from __future__ import annotations

from tests.api.conftest import Api

ADMIN = "/api/v1/admin/dispatch"


async def test_pause_and_resume_a_queue(api: Api) -> None:
    post = api.http.post
    paused = await post(f"{ADMIN}/pause", json={"queue": "media", "reason": "codec bug"})
    assert paused.status_code == 200
    assert (paused.json()["queue"], paused.json()["by"]) == ("media", "api")
    listed = (await api.http.get(ADMIN)).json()["paused"]
    assert [(p["queue"], p["reason"]) for p in listed] == [("media", "codec bug")]

    made = await post("/api/v1/tasks", json={"kind": "k", "queue": "media", "priority": 90})
    assert made.status_code == 201  # intake is not dispatch: the submit goes in
    claim = await post("/api/v1/workers/w1/claim", json={"max": 5, "wait": 0.2})
    assert claim.status_code == 204
    named = await post("/api/v1/workers/w1/claim", json={"queues": ["media"], "max": 5})
    assert named.status_code == 204

    resumed = await post(f"{ADMIN}/resume", json={"queue": "media"})
    assert resumed.json() == {"resumed": True}
    assert (await post(f"{ADMIN}/resume", json={"queue": "media"})).json() == {"resumed": False}
    claimed = await post("/api/v1/workers/w1/claim", json={"max": 5})
    assert [t["id"] for t in claimed.json()["tasks"]] == [made.json()["id"]]

    log = (await api.http.get("/api/v1/audit")).json()["entries"]
    assert [(e["action"], e["target"]) for e in log] == [
        ("dispatch.resume", "media"), ("dispatch.resume", "media"), ("dispatch.pause", "media"),
    ]  # fmt: skip
    assert log[2]["reason"] == "codec bug"


async def test_a_bad_pause_is_refused_and_pauses_nothing(api: Api) -> None:
    bad_name = await api.http.post(f"{ADMIN}/pause", json={"queue": "no spaces", "reason": "x"})
    assert bad_name.status_code == 422
    no_reason = await api.http.post(f"{ADMIN}/pause", json={"queue": "q", "reason": ""})
    assert no_reason.status_code == 422
    assert (await api.http.get(ADMIN)).json()["paused"] == []
