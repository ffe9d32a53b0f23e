"""The commands of docs/jobs.md against a live `rota serve` and `rota worker --allow-shell`:
the Distributed Task Scheduler's quick demo (the higher priority runs first) and a job whose
tasks wait for each other (each starts after what it waits for ended)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"


def bodies() -> list[dict[str, Any]]:
    """The JSON bodies of the page's `curl -X POST .../jobs` commands."""
    found = re.findall(r"-d '(\{.*?\})'", DOC.read_text(), re.S)
    return [json.loads(text) for text in found]


def finished(http: httpx.Client, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = http.get("/api/v1/tasks", params={"state": "succeeded"}).json()["tasks"]
        if len(done) >= n:
            return list(done)
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} tasks finished in 30 s")


def test_the_documented_jobs_run(procs: Procs) -> None:
    procs.serve()
    demo, release = bodies()
    with httpx.Client(base_url=procs.url, timeout=10) as http:
        made = http.post("/api/v1/jobs", json=demo)
        assert made.status_code == 201, made.text
        procs.worker("--allow-shell", "--concurrency", "1")
        done = sorted(finished(http, 2), key=lambda t: t["started_at"])
        assert [t["payload"]["cmd"] for t in done] == ["echo HIGH", "echo low"]
        assert "HIGH" in json.dumps(done[0]["result"])
        job = http.get(f"/api/v1/jobs/{made.json()['id']}").json()
        assert job["state"] == "succeeded" and job["counts"] == {"succeeded": 2}

        graph = http.post("/api/v1/jobs", json=release)
        assert graph.status_code == 201, graph.text
        ran = {t["payload"]["cmd"].split()[1]: t for t in finished(http, 6)
               if t["job_id"] == graph.json()["id"]}  # fmt: skip
        assert set(ran) == {"build", "unit", "lint", "ship"}

        def at(name: str, field: str) -> datetime:
            return datetime.fromisoformat(ran[name][field])

        for name, waits_for in (("unit", "build"), ("lint", "build"), ("ship", "unit"),
                                ("ship", "lint")):  # fmt: skip
            assert at(name, "started_at") >= at(waits_for, "finished_at"), (name, waits_for)
        cycle = {"name": "bad", "tasks": [{"name": "x", "kind": "shell", "depends_on": ["x"]}]}
        assert http.post("/api/v1/jobs", json=cycle).status_code == 422
