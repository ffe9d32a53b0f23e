"""Routing over HTTP: a claim names the worker's capabilities and gets only what they
cover; a task's ``requires`` is in its JSON; the queue and the stats count what no live
worker can run; rota's own worker passes its ``--capability`` on."""

from __future__ import annotations

from rota.client import AsyncClient
from rota.worker.runtime import WorkerOptions
from tests.api.conftest import Api

CLAIM = "/api/v1/workers/{}/claim"


async def test_claims_route_by_capability_and_stuck_tasks_are_counted(
    api: Api, client: AsyncClient
) -> None:
    made = await client.submit("render", queue="gfx", requires=["gpu"], priority=90)
    await client.submit("render", queue="gfx", priority=10)
    assert made.requires == ("gpu",)
    assert (await api.http.get("/api/v1/queues/gfx")).json()["unroutable"] == 1
    assert (await api.http.get("/api/v1/stats")).json()["unroutable"] == 1
    plain = await api.http.post(CLAIM.format("cpu-1"), json={"queues": ["gfx"], "max": 5})
    assert [t["requires"] for t in plain.json()["tasks"]] == [[]]
    await client.register_worker(
        "gpu-1", name="gpu-1", host="h", queues=["gfx"], capabilities=["gpu"],
        concurrency=1, version="t",
    )  # fmt: skip
    assert (await api.http.get("/api/v1/queues/gfx")).json()["unroutable"] == 0
    body = {"queues": ["gfx"], "max": 5, "capabilities": ["gpu"]}
    gpu = (await api.http.post(CLAIM.format("gpu-1"), json=body)).json()["tasks"]
    assert [t["id"] for t in gpu] == [made.id]
    bad = await api.http.post("/api/v1/tasks", json={"kind": "k", "requires": ["a b"]})
    assert bad.status_code == 422


def test_the_worker_cli_takes_capabilities() -> None:
    from typer.testing import CliRunner

    from rota.cli.main import app

    shown = CliRunner().invoke(app, ["worker", "--help"])
    assert "--capability" in shown.output
    assert WorkerOptions(capabilities=("gpu",)).capabilities == ("gpu",)
