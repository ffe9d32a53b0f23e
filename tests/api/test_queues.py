"""A queue's settings over HTTP: read (defaults for a queue nobody set up), change some,
reset one with null, pause through them; a full queue answers 429 with Retry-After; a
fairness key given on submit shares a fair queue; bad settings are 422 and store nothing;
the clients and the CLI speak the same routes. Unique keys over HTTP: 201 for a new task,
200 with the holder, 409 for a rejected key, ``existing`` in a batch's answer."""

from __future__ import annotations

from typer.testing import CliRunner

from rota.cli.main import app as cli
from rota.client import AsyncClient, Client
from tests.api.conftest import Api, LiveServer
from tests.api.test_bad_input import assert_error

URL = "/api/v1/queues/scan"


async def test_a_queue_nobody_set_up_reads_as_the_defaults(api: Api) -> None:
    got = await api.http.get(URL)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "name": "scan", "paused": False, "waiting": 0, "unroutable": 0, "max_size": None,
        "fairness": "off",
        "weights": {}, "aging": None, "on_conflict": "reject", "concurrency_limit": None,
        "tenant_concurrency_limit": None, "rate_limit": None, "max_attempts": None, "retry": None,
        "timeout": None, "retention": None,
    }  # fmt: skip


async def test_settings_change_reset_and_pause(api: Api) -> None:
    body = {"max_size": 10, "fairness": "weighted", "weights": {"acme": 3},
            "aging": {"rate": 6, "cap": 80}, "timeout": 30}  # fmt: skip
    changed = await api.http.patch(URL, json=body)
    assert changed.status_code == 200, changed.text
    got = (await api.http.get(URL)).json()
    assert got["max_size"] == 10 and got["weights"] == {"acme": 3}
    assert got["aging"] == {"rate": 6.0, "cap": 80} and got["timeout"] == 30
    reset = (await api.http.patch(URL, json={"aging": None, "paused": True})).json()
    assert reset["aging"] is None and reset["max_size"] == 10 and reset["paused"] is True
    assert (await api.http.get("/api/v1/admin/dispatch")).json()["paused"][0]["queue"] == "scan"
    assert (await api.http.patch(URL, json={"paused": False})).json()["paused"] is False
    actions = [e["action"] for e in (await api.http.get("/api/v1/audit")).json()["entries"]]
    assert actions.count("queue.settings") == 2 and "dispatch.pause" in actions


async def test_bad_settings_say_what_to_fix_and_store_nothing(api: Api) -> None:
    assert_error(await api.http.patch(URL, json={"aging": {"rate": 0}}), 422, "aging.rate")
    assert_error(await api.http.patch(URL, json={"max_size": -1}), 422, "max_size")
    assert_error(await api.http.patch(URL, json={"weights": {"a": 0}}), 422, "weights")
    assert_error(await api.http.patch(URL, json={"fairness": "lottery"}), 422, "fairness")
    assert_error(await api.http.patch(URL, json={"max_size": "ten"}), 422, "max_size")
    assert_error(await api.http.patch(URL, json={"colour": "red"}), 422, "colour")
    assert (await api.http.patch(URL, json={})).status_code == 200  # changes nothing
    assert (await api.http.get(URL)).json()["max_size"] is None


async def test_a_full_queue_answers_429_and_the_top_priority_gets_in(api: Api) -> None:
    await api.http.patch(URL, json={"max_size": 1})
    task = {"kind": "work", "queue": "scan"}
    assert (await api.http.post("/api/v1/tasks", json=task)).status_code == 201
    full = await api.http.post("/api/v1/tasks", json=task)
    assert_error(full, 429, "max_size of 1")
    assert full.headers["Retry-After"].isdigit()
    top = await api.http.post("/api/v1/tasks", json={**task, "priority": 100})
    assert top.status_code == 201
    assert (await api.http.get(URL)).json()["waiting"] == 2


async def test_the_client_reads_and_changes_settings_and_shares_by_key(
    api: Api, client: AsyncClient
) -> None:
    await client.update_queue("scan", fairness="round_robin")
    assert (await client.queue("scan"))["fairness"] == "round_robin"
    for n in (1, 2, 3):
        await client.submit("work", queue="scan", fairness_key="x", id=f"x{n}")
    for n in (1, 2, 3):
        await client.submit("work", queue="scan", fairness_key="y", id=f"y{n}")
    claimed = await api.service.claim("w", queues=["scan"], limit=6)
    # y joins next to the head rather than behind x's three
    assert [t.id for t in claimed] == ["x1", "x2", "y1", "x3", "y2", "y3"]


def test_the_cli_sets_and_shows_a_queue(live_server: LiveServer) -> None:
    runner = CliRunner()
    args = ["--url", live_server.url]
    change = ["--max-size", "5", "--fairness", "weighted", "--weight", "a=3", "--aging-rate", "2"]
    done = runner.invoke(cli, ["queue", "set", "cli-q", *change, *args])
    assert done.exit_code == 0, done.output
    assert "max_size" in done.output and "'a': 3" in done.output
    with Client(live_server.url) as client:
        got = client.queue("cli-q")
    assert got["max_size"] == 5 and got["aging"] == {"rate": 2.0, "cap": 100}
    reset = runner.invoke(cli, ["queue", "set", "cli-q", "--max-size", "default", *args])
    assert reset.exit_code == 0, reset.output
    assert runner.invoke(cli, ["queue", "show", "cli-q", *args]).exit_code == 0
    with Client(live_server.url) as client:
        assert client.queue("cli-q")["max_size"] is None
    bad = runner.invoke(cli, ["queue", "set", "cli-q", "--weight", "a3", *args])
    assert bad.exit_code != 0 and "KEY=WEIGHT" in bad.output


async def test_unique_keys_over_http(api: Api, client: AsyncClient) -> None:
    task = {"kind": "scan", "queue": "scan", "unique_key": "host-a"}
    made = await api.http.post("/api/v1/tasks", json=task)
    assert made.status_code == 201, made.text
    assert_error(await api.http.post("/api/v1/tasks", json=task), 409, "host-a")
    same = await api.http.post("/api/v1/tasks", json={**task, "on_conflict": "existing"})
    assert same.status_code == 200 and same.json()["id"] == made.json()["id"]
    batch = {"tasks": [{**task, "on_conflict": "raise_priority", "priority": 90},
                       {"kind": "scan", "queue": "scan", "unique": "content"}]}  # fmt: skip
    answered = await api.http.post("/api/v1/tasks/batch", json=batch)
    assert answered.status_code == 201, answered.text
    assert answered.json()["existing"] == [made.json()["id"]]
    assert answered.json()["tasks"][0]["priority"] == 90
    again = await client.submit("scan", queue="scan", unique_key="host-a", on_conflict="existing")
    assert again.id == made.json()["id"]
    # the rules across fields are in the schema, and the server holds to them
    both = {**task, "unique": "content"}
    assert_error(await api.http.post("/api/v1/tasks", json=both), 422, "not both")
    keyless = {"kind": "scan", "on_conflict": "replace"}
    assert_error(await api.http.post("/api/v1/tasks", json=keyless), 422, "unique_key")
