"""Indico's client over a live `rota serve`: the example of docs/indico.md runs as written,
and each call does what Indico's does."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil import rrule

from rota.client.indico import Client, OneShotTask, PeriodicTask
from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[2] / "docs" / "indico.md"


def test_the_documented_example_runs(procs: Procs) -> None:
    procs.serve()
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    scope: dict[str, Any] = {}
    exec(code.replace("http://127.0.0.1:8000", procs.url), scope)
    c, st, pt = scope["c"], scope["st"], scope["pt"]
    assert c.get_task(st.id).state.value == "scheduled"
    with httpx.Client(base_url=procs.url) as http:
        assert http.get(f"/api/v1/schedules/{pt.id}").status_code == 404  # dequeued
    deadline = time.monotonic() + 5
    while c.get_status()["queued"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)  # the one-shot task's time comes; the leader makes it ready
    assert c.get_status() == {"spooled": 0, "queued": 1, "running": 0, "finished": 0,
                              "failed": 0, "terminated": 0}  # fmt: skip
    c.close()


def test_each_call(procs: Procs) -> None:
    procs.serve()
    c = Client(procs.url)
    start = datetime.now(UTC) + timedelta(hours=1)
    st = OneShotTask(start, kind="echo", payload={"n": 1})
    c.enqueue(st)
    assert c.get_status()["spooled"] == 1
    sooner = start - timedelta(minutes=30)
    assert c.move_task(st, sooner).run_at == sooner
    c.dequeue(st)
    assert c.get_status()["terminated"] == 1
    assert c.start_failed_task(st).state.value == "queued"  # open server: an operator

    pt = PeriodicTask(rrule.DAILY, byhour=(9,), byminute=(0,), bysecond=(0,), kind="echo",
                      timezone="Europe/Amsterdam")  # fmt: skip
    c.enqueue(pt)
    with httpx.Client(base_url=procs.url) as http:
        schedule = http.get(f"/api/v1/schedules/{pt.id}").json()
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert next_run.astimezone(ZoneInfo("Europe/Amsterdam")).hour == 9
    c.dequeue(pt)
    c.close()
