"""Operators block and resume intake: everything, one queue or one tenant. A blocked submit
is a 503 with Retry-After and the operator's reason, and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from rota.backends.sqlite import SQLiteBackend
from rota.client import AsyncClient
from rota.config import Settings
from rota.core.errors import IntakeBlocked
from rota.service import Service, TaskSpec
from tests.api.conftest import API, Api
from tests.api.test_bad_input import assert_error


async def test_a_queue_block_refuses_that_queue_only_until_resumed(api: Api) -> None:
    blocked = await api.post("/admin/intake/block", {"queue": "mail", "reason": "smtp down"})
    assert blocked.status_code == 200, blocked.text
    assert (blocked.json()["scope"], blocked.json()["by"]) == ("queue", "api")
    refused = await api.post("/tasks", {"kind": "send", "queue": "mail"})
    body = assert_error(refused, 503, "blocked for queue 'mail'", "smtp down")
    assert body["error"] == "IntakeBlocked"
    assert refused.headers["retry-after"] == "5"
    assert (await api.submit(queue="other"))["queue"] == "other"
    batch = {"tasks": [{"kind": "send", "queue": "other"}, {"kind": "send", "queue": "mail"}]}
    assert (await api.post("/tasks/batch", batch)).status_code == 503  # all or nothing
    listed = (await api.http.get(f"{API}/admin/intake")).json()["blocks"]
    assert [(b["scope"], b["name"]) for b in listed] == [("queue", "mail")]
    resumed = await api.post("/admin/intake/resume", {"queue": "mail"})
    assert resumed.json() == {"resumed": True}
    assert (await api.post("/admin/intake/resume", {"queue": "mail"})).json() == {"resumed": False}
    assert (await api.submit(queue="mail"))["state"] == "queued"
    stats = (await api.http.get(f"{API}/stats")).json()
    assert stats["total"] == 2  # the 'other' submit and the last one; nothing of the refused


async def test_blocking_everything_and_a_tenant(api: Api) -> None:
    await api.post("/admin/intake/block", {"tenant": "acme", "reason": "unpaid"})
    assert_error(await api.post("/tasks", {"kind": "k", "tenant": "acme"}), 503, "unpaid")
    assert (await api.submit(tenant="beta"))["tenant"] == "beta"
    await api.post("/admin/intake/block", {"reason": "upgrade at 14:00"})
    assert_error(await api.post("/tasks", {"kind": "k"}), 503, "upgrade at 14:00")
    assert_error(
        await api.post("/admin/intake/block", {"queue": "q", "tenant": "t", "reason": "x"}),
        422,
        "not both",
    )
    assert_error(await api.post("/admin/intake/block", {"reason": ""}), 422, "reason")


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rota.service.controls.REFRESH_SECONDS", 0.0)


async def test_a_block_set_through_one_replica_holds_on_another(
    tmp_path: Path, instant: None
) -> None:
    one = Service(SQLiteBackend(tmp_path / "t.db"), Settings())
    two = Service(SQLiteBackend(tmp_path / "t.db"), Settings())
    await one.open()
    await two.open()
    try:
        await two.enqueue(TaskSpec("k"))  # reads (no) blocks first
        await one.controls.block("all", None, reason="drain", by="op", now=one.clock.now())
        with pytest.raises(IntakeBlocked, match="drain"):
            await two.enqueue(TaskSpec("k"))
        await one.controls.resume("all", None)
        assert (await two.enqueue(TaskSpec("k"))).state.value == "queued"
    finally:
        await one.close()
        await two.close()


async def test_the_client_blocks_lists_and_resumes(client: AsyncClient) -> None:
    block = await client.block_intake("maintenance", queue="mail")
    assert (block["scope"], block["name"]) == ("queue", "mail")
    assert [b["reason"] for b in await client.intake_blocks()] == ["maintenance"]
    with pytest.raises(IntakeBlocked, match="maintenance"):  # the server's error, by name
        await client.submit("send", {}, queue="mail")
    assert await client.resume_intake(queue="mail")
    assert await client.intake_blocks() == []
    assert (await client.submit("send", {}, queue="mail")).queue == "mail"
