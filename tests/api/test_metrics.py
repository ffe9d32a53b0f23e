"""GET /metrics: real tasks through the API, scraped and parsed as Prometheus parses them,
and the gate: no token 401, a role below viewer 403, a viewer 200."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota.api import create_app
from rota.backends.sqlite import SQLiteBackend
from rota.core.auth import Role, TokenRecord, digest
from rota.core.clock import ManualClock
from rota.core.states import ACTIVE_STATES
from rota.service import Service
from rota.service.tokens import Tokens
from tests.api.conftest import API, BASE_URL, make_settings

SECRETS = {
    "operator": "op-secret-0123456789",
    "producer": "producer-secret-0123",
    "worker": "worker-secret-012345",
    "viewer": "viewer-secret-012345",
}
TENANT_VIEWER = "acme-viewer-secret012"
ROOT = Path(__file__).resolve().parents[2]


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[role]}"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Service]]:
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(retry_backoff=0.0))
    await service.open()
    now = service.clock.now()
    records = [TokenRecord(n, digest(s), Role(n), None, now) for n, s in SECRETS.items()]
    records.append(TokenRecord("acme", digest(TENANT_VIEWER), Role.VIEWER, "acme", now))
    app = create_app(
        service, maintenance=False, tokens=Tokens(records, service.backend, service.clock.now)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http, service
    await service.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels), as Prometheus's own parser reads them."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def named(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> Any:
    return {dict(labels).get("queue", ""): v for (n, labels), v in found.items() if n == name}


async def test_metrics_reflect_real_tasks(served: tuple[httpx.AsyncClient, Service]) -> None:
    http, service = served
    op, worker = bearer("operator"), bearer("worker")
    for body in (
        *({"kind": "k", "queue": "mail", "priority": "high"} for _ in range(3)),
        *({"kind": "k", "queue": "mail", "priority": "low"} for _ in range(2)),
        {"kind": "k", "queue": "scan", "priority": 42, "max_attempts": 1},
        {"kind": "k", "queue": "scan", "priority": 42},
        {"kind": "k", "queue": "scan", "delay": 3600},
    ):
        assert (await http.post(f"{API}/tasks", json=body, headers=op)).status_code == 201
    registered = {"name": "w1", "host": "h", "concurrency": 4, "version": "1"}
    answer = await http.put(f"{API}/workers/w1", json=registered, headers=worker)
    assert answer.status_code == 200, answer.text

    mail = await http.post(f"{API}/workers/w1/claim", json={"queues": ["mail"], "max": 2},
                           headers=worker)  # fmt: skip
    scan = await http.post(f"{API}/workers/w1/claim", json={"queues": ["scan"], "max": 2},
                           headers=worker)  # fmt: skip
    (m1, _), (s1, s2) = mail.json()["tasks"], scan.json()["tasks"]
    assert s1["max_attempts"] == 1
    report = {
        "completions": [{"id": m1["id"], "lease_token": m1["lease_token"], "result": 1}],
        "failures": [
            {"id": s1["id"], "lease_token": s1["lease_token"], "error": "boom"},  # dead letter
            {"id": s2["id"], "lease_token": s2["lease_token"], "error": "flaky"},  # retried
        ],
    }
    answer = await http.post(f"{API}/workers/w1/report", json=report, headers=worker)
    assert answer.status_code == 200, answer.text
    waiting = [t for t in (await http.get(f"{API}/tasks", params={"queue": "mail",
               "state": "queued"}, headers=op)).json()["tasks"]]  # fmt: skip
    canceled = await http.post(f"{API}/tasks/{waiting[0]['id']}/cancel", headers=op)
    assert canceled.status_code == 200

    scraped = await http.get("/metrics", headers=bearer("viewer"))

    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(scraped.text)
    # the depth is the store's own count of every active (queue, state, priority)
    depth = {
        (dict(labels)["queue"], dict(labels)["state"], int(dict(labels)["priority"])): v
        for (name, labels), v in found.items()
        if name == "rota_queue_depth"
    }
    store = {
        (c.queue, c.state.value, c.priority): c.count
        for c in await service.counts()
        if c.state in ACTIVE_STATES
    }
    assert depth == store
    assert depth == {  # high is 80, low 20; the retried scan task waits again at 42
        ("mail", "queued", 80): 1, ("mail", "running", 80): 1, ("mail", "queued", 20): 1,
        ("scan", "queued", 42): 1, ("scan", "scheduled", 20): 1,
    }  # fmt: skip
    assert named(found, "rota_tasks_enqueued_total") == {"mail": 5, "scan": 3}
    assert named(found, "rota_tasks_claimed_total") == {"mail": 2, "scan": 2}
    assert named(found, "rota_tasks_succeeded_total") == {"mail": 1}
    assert named(found, "rota_tasks_failed_total") == {"scan": 1}
    assert named(found, "rota_tasks_retried_total") == {"scan": 1}
    assert named(found, "rota_tasks_canceled_total") == {"mail": 1}
    assert named(found, "rota_task_wait_seconds_count") == {"mail": 2, "scan": 2}
    assert named(found, "rota_task_run_seconds_count") == {"mail": 1, "scan": 2}
    assert found[("rota_workers_alive", ())] == 1
    assert found[("rota_worker_slots", ())] == 4
    assert named(found, "rota_queue_paused") == {"mail": 0, "scan": 0}


async def test_a_scrape_needs_a_viewer_token(served: tuple[httpx.AsyncClient, Service]) -> None:
    http, _ = served
    anonymous = await http.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    unknown = await http.get("/metrics", headers={"Authorization": "Bearer not-ours-0123456789"})
    assert unknown.status_code == 401 and "not-ours" not in unknown.text
    for role in ("producer", "worker"):
        refused = await http.get("/metrics", headers=bearer(role))
        assert refused.status_code == 403, (role, refused.text)
        assert "viewer" in refused.json()["message"]
    tenant = await http.get("/metrics", headers={"Authorization": f"Bearer {TENANT_VIEWER}"})
    assert tenant.status_code == 403 and "tenant" in tenant.json()["message"]
    for role in ("viewer", "operator"):
        assert (await http.get("/metrics", headers=bearer(role))).status_code == 200
    odd = await http.get("/metrics", params={"name[]": "x"}, headers=bearer("viewer"))
    assert odd.status_code == 422


async def test_each_app_keeps_its_own_figures(tmp_path: Path) -> None:
    """No global registry: two apps in one process count apart."""
    figures = []
    for n in range(2):
        service = Service(SQLiteBackend(tmp_path / f"{n}.db"), make_settings())
        app = create_app(service, maintenance=False)
        await service.open()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as http:
            for _ in range(n + 1):
                await http.post(f"{API}/tasks", json={"kind": "k"})
            figures.append(samples((await http.get("/metrics")).text))
        await service.close()
    assert [named(f, "rota_tasks_enqueued_total") for f in figures] == [
        {"default": 1},
        {"default": 2},
    ]


async def test_the_dashboard_asks_only_for_served_metrics(
    served: tuple[httpx.AsyncClient, Service],
) -> None:
    """Every rota_* name in deploy/grafana/rota.json is one a scrape answers."""
    http, _ = served
    await http.post(f"{API}/tasks", json={"kind": "k"}, headers=bearer("operator"))
    scraped = await http.get("/metrics", headers=bearer("viewer"))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    served_names = {
        family.name + suffix
        for family in text_string_to_metric_families(scraped.text)
        for suffix in suffixes.get(family.type, ("",))
    }  # a labelled counter has no sample before its first count, but its family is there
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rota.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {name for e in exprs for name in re.findall(r"\brota_[a-z_]+", e)}
    assert asked and asked <= served_names, asked - served_names
    assert {"rota_queue_depth", "rota_task_wait_seconds_bucket"} <= asked


async def test_the_leaders_sweeps_are_counted(tmp_path: Path) -> None:
    """A lapsed lease (retried, with its run time) and a task past its expires_at, ended by
    the maintenance services of the scraped replica."""
    clock = ManualClock()
    settings = make_settings(lease_seconds=30.0, retry_backoff=0.0)
    service = Service(SQLiteBackend(tmp_path / "t.db"), settings, clock)
    app = create_app(service, maintenance=False)
    await service.open()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as http:
            await http.post(f"{API}/tasks", json={"kind": "k", "queue": "mail"})
            made = await http.post(f"{API}/tasks", json={"kind": "k", "queue": "scan",
                                                         "delay": 5, "expires_in": 10})  # fmt: skip
            assert made.status_code == 201, made.text
            (claimed,) = (await http.post(f"{API}/workers/w1/claim", json={})).json()["tasks"]
            assert claimed["queue"] == "mail"
            clock.advance(60)  # the lease lapsed, and the scan task expired unstarted
            await service.sweep()
            found = samples((await http.get("/metrics")).text)
    finally:
        await service.close()
    assert named(found, "rota_leases_lapsed_total") == {"mail": 1}
    assert named(found, "rota_tasks_retried_total") == {"mail": 1}
    assert found[("rota_tasks_expired_total", ())] == 1
    assert named(found, "rota_task_run_seconds_count") == {"mail": 1}
    assert named(found, "rota_task_run_seconds_sum") == {"mail": 60}
