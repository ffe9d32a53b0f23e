"""The task commands of the CLI against a live server: pages that follow their cursor,
tables that stay whole at 80 columns, ``--output json`` on the read commands, cancel,
priority, retry, the dead letter with its confirmation, workers and ``rota top``."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from rota.cli.main import app as cli
from rota.client import Client
from tests.api.conftest import LiveServer

RUNNER = CliRunner()


def run(server: LiveServer, *args: str, input: str | None = None) -> str:
    done = RUNNER.invoke(cli, [*args, "--url", server.url], input=input)
    assert done.exit_code == 0, done.output
    return done.output


def as_json(server: LiveServer, *args: str) -> Any:
    return json.loads(run(server, *args, "--output", "json"))


def test_pages_follow_their_cursor_in_tables_and_in_json(live_server: LiveServer) -> None:
    with Client(live_server.url) as client:
        made = {client.submit("page", queue="cli-pages").id for _ in range(5)}
    first = run(live_server, "tasks", "--queue", "cli-pages", "--limit", "2")
    hint = first.strip().splitlines()[-1]
    assert hint.startswith("more: --cursor ")
    second = run(live_server, "tasks", "--queue", "cli-pages", "--limit", "2", *hint[6:].split())
    shown = [{i for i in made if i in text} for text in (first, second)]
    assert len(shown[0]) == len(shown[1]) == 2 and not shown[0] & shown[1]
    seen: list[str] = []
    cursor: list[str] = []
    while True:  # walking the JSON pages lists every task once
        page = as_json(live_server, "tasks", "--queue", "cli-pages", "--limit", "2", *cursor)
        seen += [t["id"] for t in page["tasks"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", str(page["next_cursor"])]
    assert sorted(seen) == sorted(made)


def test_the_task_table_stays_whole_at_80_columns(live_server: LiveServer) -> None:
    with Client(live_server.url) as client:
        task = client.submit("a-rather-long-kind-name", queue="narrow", priority=90)
    out = run(live_server, "tasks", "--queue", "narrow")  # CliRunner's terminal: 80 columns
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "state" in line)
    assert header.split() == ["id", "state", "pri", "queue", "kind"]
    row = next(line for line in lines if task.id in line)  # the id is never cut
    assert row.split()[1:4] == ["queued", "90", "narrow"]


def test_cancel_priority_retry_and_show(live_server: LiveServer) -> None:
    with Client(live_server.url) as client:
        low = client.submit("work", queue="cli-ops", priority=10)
        doomed = client.submit("work", queue="cli-ops", max_attempts=1)
    assert "moved" in run(live_server, "priority", low.id, "high")
    assert as_json(live_server, "task", low.id)["task"]["priority"] > 10
    assert "canceled" in run(live_server, "cancel", doomed.id)
    detail = as_json(live_server, "task", doomed.id)
    assert detail["task"]["state"] == "canceled"
    assert [e["kind"] for e in detail["events"]][-1] == "canceled"
    assert "requeued" in run(live_server, "retry", doomed.id)
    assert as_json(live_server, "task", doomed.id)["task"]["state"] == "queued"


def _failed(server: LiveServer, queue: str, count: int) -> list[str]:
    with Client(server.url) as client:
        for _ in range(count):
            client.submit("breaks", queue=queue, max_attempts=1)
        claimed = client.claim("cli-w", queues=[queue], max=count)
        for task in claimed:
            client.fail(task.id, task.lease_token, "boom", retryable=False)
    return [t.id for t in claimed]


def test_the_dead_letter_lists_retries_and_discards_with_confirmation(
    live_server: LiveServer,
) -> None:
    ids = _failed(live_server, "cli-dead", 3)
    listed = as_json(live_server, "dead-letter", "list", "--queue", "cli-dead")
    assert sorted(t["id"] for t in listed["tasks"]) == sorted(ids)
    refused = RUNNER.invoke(
        cli, ["dead-letter", "discard", "--queue", "cli-dead", "--url", live_server.url],
        input="n\n",
    )  # fmt: skip
    assert refused.exit_code != 0  # aborted: nothing deleted
    assert len(as_json(live_server, "dead-letter", "list", "--queue", "cli-dead")["tasks"]) == 3
    assert "retried 3" in run(live_server, "dead-letter", "retry", "--queue", "cli-dead",
                               input="y\n")  # fmt: skip
    assert as_json(live_server, "dead-letter", "list", "--queue", "cli-dead")["tasks"] == []
    _failed(live_server, "cli-dead", 3)
    assert "discarded 3" in run(live_server, "dead-letter", "discard", "--queue", "cli-dead", "-y")
    with Client(live_server.url) as client:
        assert client.list(queue="cli-dead", state="failed").tasks == []


def test_workers_top_and_json_reads(live_server: LiveServer) -> None:
    with Client(live_server.url) as client:
        client.register_worker("cli-worker", name="cli-worker", host="h", queues=["cli-top"],
                               capabilities=["gpu"], concurrency=2, version="t")  # fmt: skip
        client.submit("work", queue="cli-top")
        client.claim("cli-worker", queues=["cli-top"])
    workers = as_json(live_server, "workers")["workers"]
    mine = next(w for w in workers if w["id"] == "cli-worker")
    assert mine["capabilities"] == ["gpu"] and len(mine["running"]) == 1
    frame = run(live_server, "top", "--once")
    assert "cli-top" in frame and "cli-worker" in frame
    queues = {q["name"]: q for q in as_json(live_server, "queues")["queues"]}
    assert queues["cli-top"]["states"]["running"] == 1
    assert as_json(live_server, "queue", "show", "cli-top")["name"] == "cli-top"
    assert as_json(live_server, "intake", "status") == {"blocks": []}
    assert as_json(live_server, "dispatch", "status") == {"paused": []}
    assert "entries" in as_json(live_server, "audit")
