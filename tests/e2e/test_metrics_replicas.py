"""Two `rota serve` replicas on one store: /metrics reports the same queue depths on both,
equal to the store's own counts, and refuses a scrape without a token.

The tasks go in through one replica and are claimed and finished through the other, so a
replica that counted depth in its own memory would disagree with its twin."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota.backends import backend_from_url
from rota.core.states import ACTIVE_STATES
from tests.e2e.conftest import Procs, free_port

pytestmark = pytest.mark.slow
TOKENS = {"operator": "op-secret-0123456789", "worker": "worker-secret-012345",
          "viewer": "viewer-secret-012345"}  # fmt: skip


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture(params=["postgres", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    fixture = "pg_url" if request.param == "postgres" else "redis_store_url"
    url: str = request.getfixturevalue(fixture)
    return url


def healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"rota serve exited: {log.read_text()}"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    answer = httpx.get(f"{url}/metrics", headers=bearer("viewer"), timeout=10)
    assert answer.status_code == 200, answer.text
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            found.setdefault(s.name, []).append((s.labels, s.value))
    return found


def depth(found: dict[str, list[tuple[dict[str, str], float]]]) -> dict[tuple[str, str, int], int]:
    return {
        (labels["queue"], labels["state"], int(labels["priority"])): int(value)
        for labels, value in found["rota_queue_depth"]
    }


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(value for _, value in found.get(name, []))


async def store_counts(url: str) -> dict[tuple[str, str, int], int]:
    """The store's own full count (task_count_by_queue), not the verb /metrics reads."""
    backend = backend_from_url(url)
    await backend.open()
    try:
        rows = await backend.task_count_by_queue()
    finally:
        await backend.close()
    return {(r.queue, r.state.value, r.priority): r.count for r in rows if r.state in ACTIVE_STATES}


def test_two_replicas_report_the_stores_depth(procs: Procs, store_url: str, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"name": n, "role": n, "secret": s} for n, s in TOKENS.items()]))
    procs.env.update(ROTA_DATABASE_URL=store_url, ROTA_TOKENS_FILE=str(tokens))
    urls = []
    for n in range(2):
        port = free_port()
        proc = procs.spawn("serve", "--port", str(port), "--log-level", "warning",
                           log=f"serve{n}.log")  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
        healthy(urls[-1], proc, tmp_path / f"serve{n}.log")
    a, b = urls

    batch: list[dict[str, Any]] = [
        {"kind": "k", "queue": queue, "priority": priority}
        for queue in ("mail", "scan")
        for priority in (10, 50, 90)
        for _ in range(6)
    ] + [{"kind": "k", "queue": "scan", "delay": 3600} for _ in range(4)]
    made = httpx.post(f"{a}/api/v1/tasks/batch", json={"tasks": batch}, headers=bearer("operator"))
    assert made.status_code == 201, made.text
    worker = {"name": "w", "host": "h", "concurrency": 3, "version": "1"}
    assert httpx.put(f"{b}/api/v1/workers/w1", json=worker, headers=bearer("worker")).is_success
    claimed = httpx.post(f"{b}/api/v1/workers/w1/claim", json={"max": 7},
                         headers=bearer("worker")).json()["tasks"]  # fmt: skip
    assert len(claimed) == 7
    done = [{"id": t["id"], "lease_token": t["lease_token"]} for t in claimed[:3]]
    report = httpx.post(f"{a}/api/v1/workers/w1/report", json={"completions": done},
                        headers=bearer("worker"))  # fmt: skip
    assert report.status_code == 200, report.text
    assert [r["status"] for r in report.json()["results"]] == [200] * 3

    for url in urls:  # fail closed: tokens exist, so a scrape without one is refused
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 401, refused.text
    first, second = scrape(a), scrape(b)
    store = asyncio.run(store_counts(store_url))

    assert depth(first) == depth(second) == store
    assert sum(n for (_, state, _), n in store.items() if state == "running") == 4
    assert sum(store.values()) == len(batch) - 3
    for found in (first, second):
        assert total(found, "rota_workers_alive") == 1
        assert total(found, "rota_worker_slots") == 3
    # the transitions are per process: each replica counted what it handled
    assert total(first, "rota_tasks_enqueued_total") == len(batch)
    assert total(second, "rota_tasks_enqueued_total") == 0
    assert total(second, "rota_tasks_claimed_total") == 7
    assert total(first, "rota_tasks_succeeded_total") == 3
