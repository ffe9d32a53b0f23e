"""The fast lane (rota.api.fastlane): plain submits and claims skip the framework's layers,
and every other request, refusals included, is the whole app's, answered word for word."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from rota.api import create_app
from rota.api.fastlane import FastLane
from rota.backends.sqlite import SQLiteBackend
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Service
from tests.api.conftest import API, BASE_URL, make_settings

#: fields of an answer that differ between two stores for the same request
VOLATILE = {"id", "created_at", "updated_at", "run_at", "started_at", "lease_token",
            "lease_expires_at", "enqueued_at", "seq"}  # fmt: skip


class Inner:
    """What the lane passes on to: records the request, answers 418."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _call(
    lane: FastLane, app: FastAPI, path: str, body: bytes, query: bytes = b"", **headers: str
) -> int:
    scope = {
        "type": "http", "method": "POST", "path": path, "query_string": query, "app": app,
        "headers": [(b"content-type", b"application/json")]
        + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await lane(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[tuple[Service, FastAPI]]:
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings())
    await service.open()
    try:
        yield service, create_app(service, maintenance=False)
    finally:
        await service.close()


async def test_plain_submits_and_claims_are_answered_in_the_lane(
    opened: tuple[Service, FastAPI],
) -> None:
    service, app = opened
    inner = Inner()
    lane = FastLane(inner)
    assert await _call(lane, app, f"{API}/tasks", b'{"kind": "work"}') == 201
    assert await _call(lane, app, f"{API}/workers/w1/claim", b'{"max": 5}') == 200
    assert inner.seen == []  # the rest of the app never saw them
    running, _ = await service.list_tasks(TaskFilter(state=TaskState.RUNNING), limit=10)
    assert [t.kind for t in running] == ["work"]  # submitted, then leased by the claim


async def test_what_the_lane_declines_reaches_the_app_with_its_body(
    opened: tuple[Service, FastAPI],
) -> None:
    _, app = opened
    inner = Inner()
    lane = FastLane(inner)
    declined = [
        (f"{API}/tasks", b'{"kind": "work", "priority": [1]}', b""),  # the model refuses
        (f"{API}/tasks", b'{"kind": "work", "colour": 1}', b""),  # an unknown field
        (f"{API}/tasks", b'{"kind": ', b""),  # not JSON
        (f"{API}/tasks", b'{"kind": "work"}', b"x=1"),  # a query string
        (f"{API}/workers/w1/claim", b'{"max": 0}', b""),
        (f"{API}/tasks/batch", b'{"tasks": []}', b""),  # another route
    ]
    for path, body, query in declined:
        assert await _call(lane, app, path, body, query) == 418
    assert inner.seen == [(path, body) for path, body, _ in declined]
    # a caller the route refuses is refused by the app, not by the lane
    assert await _call(lane, app, f"{API}/tasks", b'{"kind": "w"}', x_rota_reason="") == 418
    assert inner.seen[-1] == (f"{API}/tasks", b'{"kind": "w"}')


TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: requests whose answers must not depend on the lane: (path, body, headers)
SAME = [
    ("/tasks", {"kind": "work", "priority": 7, "payload": {"a": [1, 2]}}, {}),
    ("/tasks", {"kind": "work", "priority": [1]}, {}),
    ("/tasks", {"kind": "work", "colour": 1}, {}),
    ("/tasks", {"kind": "bad kind!"}, {}),
    ("/tasks", {"kind": "work", "queue": "q", "tenant": "t1", "delay": 60}, {}),
    ("/tasks", {"kind": "dup", "unique": "content", "on_conflict": "reject"}, {}),
    ("/tasks", {"kind": "dup", "unique": "content", "on_conflict": "reject"}, {}),  # 409
    ("/tasks", [1, 2], {}),
    ("/tasks", {"kind": "work"}, {"x-rota-reason": ""}),
    ("/workers/w1/claim", {"max": 2, "wait": 0}, {}),
    ("/workers/w1/claim", {"max": 0}, {}),
    ("/workers/bad%20id/claim", {"max": 1}, {}),
    ("/workers/w1/claim", {"max": 1, "completions": [{"id": "nope", "lease_token": 1}]}, {}),
    ("/workers/w1/claim", {"max": 1}, {}),  # nothing left: 204
    # bodies FastAPI reads with the standard library's json, as the lane must
    ("/tasks", b'{"kind": "k", "payload": {"n": 1000000000000000000000000000000}}', {}),
    ("/tasks", b'{"kind": "k", "payload": {"a": NaN}}', {}),
    ("/tasks", b"[" * 100_000, {}),
    ("/tasks", b"{'kind': 'k'}", {}),
]


def _stable(answer: httpx.Response) -> Any:
    if not answer.content:
        return None
    data = answer.json()

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return TASK_ID.sub("<id>", value) if isinstance(value, str) else value

    return strip(data)


async def test_answers_are_the_same_with_the_lane_and_without(tmp_path: Path) -> None:
    answers: list[list[tuple[int, Any, str | None]]] = []
    for lane in (True, False):
        service = Service(SQLiteBackend(tmp_path / f"{lane}.db"), make_settings())
        await service.open()
        app = create_app(service, maintenance=False)
        if not lane:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not FastLane]
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                got = []
                for path, body, headers in SAME:
                    content = body if isinstance(body, bytes) else orjson.dumps(body)
                    answer = await http.post(f"{API}{path}", content=content,
                                             headers={"content-type": "application/json",
                                                      **headers})  # fmt: skip
                    got.append((answer.status_code, _stable(answer),
                                answer.headers.get("retry-after")))  # fmt: skip
                answers.append(got)
        finally:
            await service.close()
    with_lane, without = answers
    assert [a[0] for a in with_lane] == [201, 422, 422, 422, 201, 201, 409, 422, 422, 200, 422,
                                         422, 200, 204, 422, 422, 400, 422]  # fmt: skip
    assert with_lane == without
