"""Every operator action lands in the audit log with who, what, when and why, and the log
is listed newest first, filtered and paged (GET /api/v1/audit)."""

from __future__ import annotations

from tests.api.conftest import Api

WHY = {"X-Rota-Reason": "INC-42: a runaway producer"}


async def test_operator_actions_are_listed_with_who_what_and_why(api: Api) -> None:
    post = api.http.post
    made = (await post("/api/v1/tasks", json={"kind": "k", "queue": "q"})).json()
    task = f"/api/v1/tasks/{made['id']}"
    assert (await post(f"{task}/priority", json={"priority": 90}, headers=WHY)).is_success
    assert (await post(f"{task}/cancel", headers=WHY)).is_success
    block = {"queue": "q", "reason": "disk full"}
    assert (await post("/api/v1/admin/intake/block", json=block)).is_success
    assert (await post("/api/v1/admin/intake/resume", json={"queue": "q"})).is_success
    created = await api.http.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "dash"})
    assert created.status_code == 201
    assert (await api.http.post("/api/v1/admin/tokens/dash/revoke")).status_code == 200
    discarded = await api.http.post("/api/v1/dead-letter/discard", json={"queue": "q"})
    assert discarded.status_code == 200

    log = (await api.http.get("/api/v1/audit")).json()
    actions = [e["action"] for e in log["entries"]]
    assert actions == [
        "dead_letter.discard", "token.revoke", "token.create", "intake.resume", "intake.block",
        "task.cancel", "task.priority",
    ]  # fmt: skip
    by_action = {e["action"]: e for e in log["entries"]}
    cancel = by_action["task.cancel"]
    assert (cancel["actor"], cancel["target"]) == ("api", made["id"])
    assert cancel["reason"] == WHY["X-Rota-Reason"]
    assert cancel["detail"] == {"state": "canceled"} and cancel["at"].endswith("+00:00")
    assert by_action["task.priority"]["detail"] == {"priority": 90, "to_tail": False}
    assert by_action["intake.block"]["reason"] == "disk full"
    assert by_action["intake.block"]["detail"] == {"scope": "queue"}
    assert by_action["token.create"]["detail"] == {"role": "viewer", "tenant": None}
    assert by_action["dead_letter.discard"]["detail"] == {"filter": {"queue": "q"}, "count": 0}
    assert log["next_before"] is None

    only = (await api.http.get("/api/v1/audit", params={"action": "task.cancel"})).json()
    assert [e["target"] for e in only["entries"]] == [made["id"]]
    page = (await api.http.get("/api/v1/audit", params={"limit": 3})).json()
    assert [e["action"] for e in page["entries"]] == actions[:3]
    rest = (await api.http.get("/api/v1/audit", params={"before": page["next_before"]})).json()
    assert [e["action"] for e in rest["entries"]] == actions[3:]


async def test_a_bad_reason_or_filter_is_refused_and_changes_nothing(api: Api) -> None:
    made = (await api.http.post("/api/v1/tasks", json={"kind": "k"})).json()
    long = await api.http.post(
        f"/api/v1/tasks/{made['id']}/cancel", headers={"X-Rota-Reason": "x" * 501}
    )
    assert long.status_code == 422 and "reason" in long.json()["message"]
    assert (await api.http.get(f"/api/v1/tasks/{made['id']}")).json()["state"] == "queued"
    assert (await api.http.get("/api/v1/audit")).json()["entries"] == []
    bad = await api.http.get("/api/v1/audit", params={"actor": "no spaces"})
    assert bad.status_code == 422 and "actor" in bad.json()["message"]
    assert (await api.http.get("/api/v1/audit", params={"limit": 0})).status_code == 422
