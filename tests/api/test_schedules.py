"""Schedules over HTTP: create, list, read, change and delete; the tasks an evaluation makes
carry their schedule and occurrence; bad definitions are refused and store nothing; every
change is in the audit log. Time is a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rota.backends.sqlite import SQLiteBackend
from rota.client import AsyncClient
from rota.core.clock import ManualClock
from rota.service import Service
from tests.api.conftest import Api, make_settings
from tests.api.test_bad_input import assert_error

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
URL = "/api/v1/schedules"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    opened = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(), clock=ManualClock(T0))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_schedule_from_creation_to_deletion(api: Api) -> None:
    body = {"name": "minutely", "rrule": "FREQ=MINUTELY;BYSECOND=40", "timezone": "Europe/Paris",
            "task": {"kind": "report", "queue": "reports", "payload": {"to": "ops"}},
            "overlap": "skip", "deadline": 30}  # fmt: skip
    made = await api.http.post(URL, json=body)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert schedule["next_run_at"] == "2026-06-01T12:00:40+00:00"
    assert (schedule["rrule"], schedule["cron"], schedule["catch_up"]) == (body["rrule"], None,
                                                                          "skip")  # fmt: skip
    assert (await api.http.post(URL, json=body)).status_code == 409  # the name is taken
    schema_break = await api.http.post(URL, json={**body, "name": "x", "catch_up": "never"})
    assert schema_break.status_code == 422

    clock = api.service.clock
    assert isinstance(clock, ManualClock)
    clock.advance(41)
    assert await api.service.schedules.fire_due() == 1
    (task,) = (await api.http.get("/api/v1/tasks", params={"queue": "reports"})).json()["tasks"]
    assert (task["schedule_id"], task["scheduled_for"]) == (
        schedule["id"], "2026-06-01T12:00:40+00:00")  # fmt: skip
    assert task["expires_at"] == "2026-06-01T12:01:10+00:00" and task["payload"] == {"to": "ops"}

    one = (await api.http.get(f"{URL}/{schedule['id']}")).json()
    assert one["last_run_at"] == "2026-06-01T12:00:40+00:00" and one["last_task_id"] == task["id"]
    changed = await api.http.patch(f"{URL}/{schedule['id']}",
                                   json={"cron": "0 9 * * 1-5", "enabled": False})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["cron"], changed.json()["rrule"]) == ("0 9 * * 1-5", None)
    assert changed.json()["enabled"] is False and changed.json()["timezone"] == "Europe/Paris"
    listed = (await api.http.get(URL)).json()["schedules"]
    assert [s["name"] for s in listed] == ["minutely"]

    assert (await api.http.delete(f"{URL}/{schedule['id']}")).status_code == 204
    assert (await api.http.get(f"{URL}/{schedule['id']}")).status_code == 404
    log = (await api.http.get("/api/v1/audit")).json()["entries"]
    assert [e["action"] for e in log] == ["schedule.delete", "schedule.update", "schedule.create"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"cron": "* * * * *", "interval": 5}, ["one of cron, rrule, interval or at"]),
        ({}, ["one of cron, rrule, interval or at"]),
        ({"cron": "every day"}, ["cron", "invalid"]),
        ({"rrule": "FREQ=SOMETIMES"}, ["rrule", "invalid"]),
        ({"at": "2026-06-02T00:00:00", "timezone": "Atlantis/Deep"}, ["timezone", "unknown"]),
        ({"at": "2020-01-01T00:00:00+00:00"}, ["at", "past"]),
        ({"interval": 60, "timezone": "America"}, ["timezone", "unknown"]),
        ({"at": "0001-01-01T00:00:00+05:00"}, ["at", "calendar"]),
    ],
)
async def test_a_bad_schedule_is_refused_and_stores_nothing(
    api: Api, body: dict[str, object], words: list[str]
) -> None:
    full = {"name": "bad", "task": {"kind": "report"}, **body}
    assert_error(await api.http.post(URL, json=full), 400, *words)
    assert (await api.http.get(URL)).json()["schedules"] == []


async def test_the_client_manages_schedules(api: Api, client: AsyncClient) -> None:
    made = await client.create_schedule(
        "hourly", {"kind": "report"}, cron="0 * * * *", timezone="America/New_York"
    )
    assert made["next_run_at"] == "2026-06-01T13:00:00+00:00"
    assert [s["id"] for s in await client.schedules()] == [made["id"]]
    paused = await client.update_schedule(made["id"], enabled=False)
    assert paused["enabled"] is False and (await client.schedule(made["id"]))["enabled"] is False
    await client.delete_schedule(made["id"])
    assert await client.schedules() == []


async def test_move_a_task_over_http_and_with_the_client(api: Api, client: AsyncClient) -> None:
    task = await api.submit(kind="report", delay=600)
    moved = await api.http.post(f"/api/v1/tasks/{task['id']}/move",
                                json={"run_at": "2026-06-01T12:05:00+00:00"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert (moved.json()["state"], moved.json()["run_at"]) == (
        "scheduled", "2026-06-01T12:05:00+00:00")  # fmt: skip
    now = await client.move(task["id"], delay=0)
    assert now.state.value == "queued"
    body = {"run_at": "2026-06-01T12:05:00+00:00", "delay": 1}
    both = await api.http.post(f"/api/v1/tasks/{task['id']}/move", json=body)
    assert both.status_code in (400, 422)
    log = (await api.http.get("/api/v1/audit", params={"action": "task.move"})).json()
    assert len(log["entries"]) == 2


async def test_a_submit_ranked_by_a_ranker(api: Api) -> None:
    body = {"kind": "scan", "run_at": "2026-06-01T12:30:00+00:00", "ranker": {"name": "time"}}
    made = await api.http.post("/api/v1/tasks", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["priority"] == 50  # due in half of the default hour's window
    batch = await api.http.post("/api/v1/tasks/batch", json={"tasks": [body, {"kind": "x"}]})
    assert [t["priority"] for t in batch.json()["tasks"]] == [50, 20]
    both = await api.http.post("/api/v1/tasks", json={**body, "priority": 5})
    assert both.status_code == 422
    unknown = await api.http.post("/api/v1/tasks", json={**body, "ranker": {"name": "nope"}})
    assert_error(unknown, 400, "unknown name 'nope'")
    nameless = await api.http.post("/api/v1/tasks", json={**body, "ranker": {"window": 5}})
    assert nameless.status_code == 422


async def test_identity_by_template_and_pause_over_http(api: Api) -> None:
    body = {"name": "scan-a", "interval": 60, "task": {"kind": "scan"}, "identity": "template"}
    first = await api.http.post(URL, json=body)
    assert first.status_code == 201 and first.json()["id"].startswith("tpl-")
    again = await api.http.post(URL, json={**body, "name": "scan-b"})
    assert_error(again, 409, "task template")
    paused = await api.http.patch(f"{URL}/{first.json()['id']}", json={"paused": True})
    assert (paused.json()["paused"], paused.json()["enabled"]) == (True, True)


async def test_occurrence_ids_are_reserved(api: Api) -> None:
    squat = await api.http.post("/api/v1/tasks", json={"kind": "k", "id": "sch:abc:1780000000"})
    assert_error(squat, 422, "sch:")
