"""The blocking rota.client.Client against a real uvicorn server on a loopback port.

The server is shared by the module, so every test works in its own queue.
"""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

import rota
from rota.client import Client, task_body
from rota.core.states import TaskState
from tests.api.conftest import LiveServer


def _queue() -> str:
    return f"q-{uuid.uuid4().hex[:12]}"


def test_server_speaks_real_http(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert isinstance(response.json()["leader"], bool)


def test_submit_get_list(sync_client: Client) -> None:
    queue = _queue()
    task = sync_client.submit("echo", {"n": 1}, queue=queue, priority="mid")
    assert task.state is TaskState.QUEUED
    assert task.priority == 50
    got = sync_client.get(task.id)
    assert got.payload == {"n": 1}
    assert got.queue == queue
    more = sync_client.submit_many([task_body("echo", {"n": i}, queue=queue) for i in (2, 3)])
    page = sync_client.list(queue=queue)
    assert [t.id for t in page.tasks] == [more[1].id, more[0].id, task.id]
    assert page.next_cursor is None
    assert sync_client.position(more[1].id) == {"in_priority": 2, "in_queue": 3}


def test_cancel_set_priority_retry(sync_client: Client) -> None:
    queue = _queue()
    a = sync_client.submit("k", queue=queue, priority="low")
    b = sync_client.submit("k", queue=queue, priority="mid")
    c = sync_client.submit("k", queue=queue, priority="low")
    assert sync_client.cancel(c.id).state is TaskState.CANCELED
    raised = sync_client.set_priority(a.id, "high")
    assert raised.priority == 80
    claimed = sync_client.claim("sync-w", queues=[queue], max=5)
    assert [t.id for t in claimed] == [a.id, b.id]
    retried = sync_client.retry(c.id)
    assert retried.state is TaskState.QUEUED
    assert [t.id for t in sync_client.claim("sync-w", queues=[queue])] == [c.id]
    with pytest.raises(rota.IllegalTransition):
        sync_client.retry(a.id)


def test_wait_for_a_task_completed_through_the_client(sync_client: Client) -> None:
    queue = _queue()
    task = sync_client.submit("k", {"x": 2}, queue=queue)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Client(sync_client.url, timeout=30.0) as other:
                (claimed,) = other.claim("sync-worker", queues=[queue], wait=5)
                assert claimed.id == task.id
                other.heartbeat(claimed.id, claimed.lease_token)
                other.complete(claimed.id, claimed.lease_token, result={"y": 4})
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    done = sync_client.wait_for(task.id, timeout=15, poll=0.05)
    thread.join(15)
    assert not errors, errors
    assert done.state is TaskState.SUCCEEDED
    assert done.result == {"y": 4}
    assert done.worker_id == "sync-worker"
    assert [e.kind for e in sync_client.events(task.id)] == ["enqueued", "claimed", "succeeded"]


def test_wait_for_a_failed_task(sync_client: Client) -> None:
    queue = _queue()
    task = sync_client.submit("k", queue=queue, max_attempts=1)
    (claimed,) = sync_client.claim("w", queues=[queue])
    sync_client.fail(claimed.id, claimed.lease_token, "broken")
    done = sync_client.wait_for(task.id, timeout=5)
    assert done.state is TaskState.FAILED
    assert done.error == "broken"


def test_wait_for_times_out(sync_client: Client) -> None:
    task = sync_client.submit("k", queue=_queue())
    with pytest.raises(TimeoutError):
        sync_client.wait_for(task.id, timeout=0.2, poll=0.05)


def test_report_and_errors(sync_client: Client) -> None:
    queue = _queue()
    sync_client.submit("k", queue=queue)
    sync_client.submit("k", queue=queue)
    first, second = sync_client.claim("w", queues=[queue], max=2)
    results = sync_client.report(
        "w",
        completions=[{"id": first.id, "lease_token": first.lease_token}],
        failures=[{"id": second.id, "lease_token": second.lease_token + 1, "error": "e"}],
    )
    assert [r["status"] for r in results] == [200, 409]
    with pytest.raises(rota.StaleLease):
        sync_client.complete(second.id, second.lease_token + 1)
    with pytest.raises(rota.NotFound):
        sync_client.get("nope")
    with pytest.raises(rota.ValidationError):
        sync_client.submit("k", priority=-1)
    dup = sync_client.submit("k", queue=queue)
    with pytest.raises(rota.DuplicateTask):
        sync_client.submit("k", id=dup.id)


def test_unreachable_server_is_client_error() -> None:
    with Client("http://127.0.0.1:9", timeout=2.0) as client, pytest.raises(rota.ClientError):
        client.health()
