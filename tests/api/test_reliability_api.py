"""HTTP surface of retry policies, retry-later, progress, expiry and the dead letter."""

from __future__ import annotations

import asyncio

import pytest

from rota.client import AsyncClient
from rota.core.errors import StaleLease, ValidationError
from tests.api.conftest import Api


async def test_a_retry_policy_is_kept_and_shown(api: Api) -> None:
    task = await api.submit(retry={"backoff": "fixed", "delay": 3, "retry_on": ["OSError"]})
    assert task["retry"]["backoff"] == "fixed"
    assert task["retry"]["retry_on"] == ["OSError"]


async def test_a_bad_retry_policy_is_422_with_what_to_fix(api: Api) -> None:
    response = await api.post("/tasks", {"kind": "work", "retry": {"backoff": "often"}})
    assert response.status_code == 422
    assert "exponential" in response.json()["message"]


async def test_fail_with_an_unlisted_kind_dead_letters_at_once(api: Api) -> None:
    task = await api.submit(retry={"retry_on": ["OSError"]}, max_attempts=5)
    (claimed,) = await api.claim()
    body = {"lease_token": claimed["lease_token"], "error": "bad input", "error_kind": "KeyError"}
    response = await api.post(f"/tasks/{task['id']}/fail", body)
    assert response.status_code == 200
    assert response.json()["state"] == "failed"


async def test_retry_after_runs_it_again_later_without_spending_an_attempt(api: Api) -> None:
    task = await api.submit(max_attempts=1)
    (claimed,) = await api.claim()
    body = {"lease_token": claimed["lease_token"], "error": "busy", "retry_after": 60}
    answer = (await api.post(f"/tasks/{task['id']}/fail", body)).json()
    assert (answer["state"], answer["attempt"]) == ("scheduled", 0)


async def test_progress_is_recorded_and_a_stale_token_is_409(api: Api) -> None:
    task = await api.submit()
    (claimed,) = await api.claim()
    ok = await api.post(
        f"/tasks/{task['id']}/progress",
        {"lease_token": claimed["lease_token"], "progress": {"rows": 10}},
    )
    assert ok.status_code == 200 and ok.json()["cancel_requested"] is False
    assert (await api.get(task["id"]))["progress"] == {"rows": 10}
    stale = await api.post(
        f"/tasks/{task['id']}/progress",
        {"lease_token": claimed["lease_token"] + 1, "progress": {"rows": 99}},
    )
    assert stale.status_code == 409
    assert (await api.get(task["id"]))["progress"] == {"rows": 10}


async def test_an_expiry_shows_and_an_expired_task_is_not_handed_out(api: Api) -> None:
    task = await api.submit(expires_in=0.05)
    assert task["expires_at"] is not None
    await asyncio.sleep(0.1)
    assert await api.claim() == []


async def test_dead_letter_endpoints_retry_and_discard(api: Api, client: AsyncClient) -> None:
    for queue in ("a", "b"):
        await api.submit(queue=queue, max_attempts=1)
    for claimed in await api.claim(max=2):
        body = {"lease_token": claimed["lease_token"], "error": "broken"}
        assert (await api.post(f"/tasks/{claimed['id']}/fail", body)).status_code == 200
    retried = await client.retry_failed(queue="a")
    assert len(retried) == 1
    assert (await api.get(retried[0]))["state"] == "queued"
    assert await client.discard_failed(queue="b") == 1
    assert await client.discard_failed() == 0
    bad = await api.post("/dead-letter/retry", {"queue": "a", "limit": 0})
    assert bad.status_code == 422


async def test_client_progress_and_errors_map_back(api: Api, client: AsyncClient) -> None:
    task = await client.submit("work", {"x": 1}, retry={"backoff": "list", "delays": [1]})
    (claimed,) = await client.claim("w", max=1)
    answer = await client.progress(task.id, claimed.lease_token, {"step": 1})
    assert answer["cancel_requested"] is False
    with pytest.raises(StaleLease):
        await client.progress(task.id, claimed.lease_token + 5, {"step": 2})
    with pytest.raises(ValidationError):
        await client.submit("work", retry={"delay": -1})


async def test_a_requeued_task_names_no_worker_but_its_history_does(api: Api) -> None:
    task = await api.submit(max_attempts=3)
    (claimed,) = await api.claim("lost-worker")
    assert claimed["worker_id"] == "lost-worker"
    body = {"lease_token": claimed["lease_token"], "error": "worker lost"}
    answer = (await api.post(f"/tasks/{task['id']}/fail", body)).json()
    assert answer["state"] in ("queued", "scheduled") and answer["worker_id"] is None
    assert (await api.get(task["id"]))["worker_id"] is None
    events = (await api.http.get(f"/api/v1/tasks/{task['id']}/events")).json()["events"]
    assert "lost-worker" in {e["worker_id"] for e in events}
