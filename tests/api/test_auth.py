"""Authentication and roles: every route of the API against every kind of caller.

The matrix: each route in the OpenAPI document x {no token, malformed header, unknown,
revoked, expired, a role the route does not admit} is refused (401 / 403) and changes
nothing; the admitted roles get past the gate. A route without an entry in the access
table fails ``test_every_route_is_classified``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from rota.api import create_app
from rota.api.access import OWN_RULES, PUBLIC, ROUTES
from rota.backends.sqlite import SQLiteBackend
from rota.core.auth import Role, TokenRecord, digest
from rota.core.models import TaskFilter
from rota.service import Service, TaskSpec
from rota.service.tokens import Tokens
from tests.api.conftest import BASE_URL, make_settings

SECRETS = {
    "operator": "op-secret-0123456789",
    "producer": "producer-secret-0123",
    "worker": "worker-secret-012345",
    "viewer": "viewer-secret-012345",
    "acme": "acme-producer-secret0",
    "acme-viewer": "acme-viewer-secret012",
}
REVOKED, EXPIRED = "revoked-secret-01234", "expired-secret-01234"

BODIES: dict[str, Any] = {
    "POST /api/v1/tasks": {"kind": "work"},
    "POST /api/v1/tasks/batch": {"tasks": [{"kind": "work"}]},
    "POST /api/v1/tasks/{task_id}/priority": {"priority": 5},
    "POST /api/v1/tasks/{task_id}/move": {"delay": 5},
    "POST /api/v1/dead-letter/retry": {},
    "POST /api/v1/dead-letter/discard": {},
    "POST /api/v1/jobs": {"name": "j", "tasks": [{"kind": "work"}]},
    "PUT /api/v1/workers/{worker_id}": {
        "name": "n",
        "host": "h",
        "concurrency": 1,
        "version": "1",
    },
    "POST /api/v1/workers/{worker_id}/claim": {},
    "POST /api/v1/workers/{worker_id}/report": {},
    "POST /api/v1/tasks/{task_id}/heartbeat": {"lease_token": 1},
    "POST /api/v1/tasks/{task_id}/progress": {"lease_token": 1, "progress": 1},
    "POST /api/v1/tasks/{task_id}/complete": {"lease_token": 1},
    "POST /api/v1/tasks/{task_id}/fail": {"lease_token": 1, "error": "e"},
    "POST /api/v1/admin/tokens": {"role": "viewer"},
    "POST /jobs": {"job_type": "sleep"},
    "POST /jobs/{job_id}/complete": {"success": True},
    "POST /api/v1/admin/intake/block": {"queue": "mail", "reason": "smtp down"},
    "POST /api/v1/admin/intake/resume": {"queue": "mail"},
    "POST /api/v1/admin/tenants/disable": {"tenant": "zeta", "reason": "r"},
    "POST /api/v1/schedules": {"name": "s", "interval": 60, "task": {"kind": "work"}},
    "PATCH /api/v1/schedules/{schedule_id}": {"enabled": False},
    "POST /api/v1/admin/tenants/enable": {"tenant": "zeta"},
}


class Gate:
    def __init__(self, http: httpx.AsyncClient, service: Service, ids: dict[str, str]) -> None:
        self.http, self.service, self.ids = http, service, ids

    async def call(self, method: str, template: str, headers: dict[str, str]) -> httpx.Response:
        path = template.format(
            task_id=self.ids["task"],
            job_id=self.ids["job"],
            worker_id="w1",
            name="gone",
            schedule_id=self.ids["schedule"],
        )
        body = BODIES.get(f"{method} {template}")
        return await self.http.request(method, path, json=body, headers=headers)

    async def snapshot(self) -> Any:
        tasks, _ = await self.service.list_tasks(TaskFilter(), limit=1000)
        events = await self.service.events(self.ids["task"])
        tokens = await self.service.backend.token_list()
        schedules = await self.service.schedules.all()
        return (
            tasks,
            events,
            await self.service.workers(),
            await self.service.counts(),
            tokens,
            schedules,
        )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def gate(tmp_path: Path) -> AsyncIterator[Gate]:
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(compat="dms,cd"))
    await service.open()
    now = service.clock.now()
    configured = [
        TokenRecord(name, digest(SECRETS[name]), Role(name), None, now)
        for name in ("operator", "producer", "worker", "viewer")
    ] + [
        TokenRecord("acme", digest(SECRETS["acme"]), Role.PRODUCER, "acme", now),
        TokenRecord("acme-viewer", digest(SECRETS["acme-viewer"]), Role.VIEWER, "acme", now),
    ]
    stored = [
        TokenRecord("gone", digest(REVOKED), Role.OPERATOR, None, now),
        TokenRecord(
            "old",
            digest(EXPIRED),
            Role.OPERATOR,
            None,
            now - timedelta(days=2),
            expires_at=now - timedelta(days=1),
        ),
    ]
    for record in stored:
        assert await service.backend.token_insert(record)
    assert await service.backend.token_revoke("gone", now=now)
    tokens = Tokens(configured, service.backend, service.clock.now)
    app = create_app(service, maintenance=False, tokens=tokens)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        task = await service.enqueue(TaskSpec("work", tenant="beta"))
        job, _ = await service.submit_job("j", [TaskSpec("work", tenant="beta")], "beta")
        schedule = await service.schedules.create(
            "nightly",
            {"rule": {"kind": "cron", "expr": "0 3 * * *"}, "timezone": "UTC",
             "task": {"kind": "work", "tenant": "beta"}, "catch_up": "skip", "overlap": "allow"},
            enabled=True,
        )  # fmt: skip
        yield Gate(http, service, {"task": task.id, "job": job.id, "schedule": schedule.id})
    await service.close()


def documented_routes() -> set[tuple[str, str]]:
    routes = set()
    for compat in ("dms,cd", "kat"):  # DMS and KAT share paths: never mounted together
        service = Service(SQLiteBackend(":memory:"), make_settings(compat=compat))
        schema = create_app(service, maintenance=False).openapi()
        routes |= {
            (method.upper(), path)
            for path, operations in schema["paths"].items()
            for method in operations
        }
    return routes


def test_every_route_is_classified() -> None:
    routes = documented_routes()
    assert routes, "the OpenAPI document lists no route"
    unclassified = routes - set(ROUTES)
    assert not unclassified, f"add these routes to rota.api.access.ROUTES: {unclassified}"
    # pages outside the OpenAPI document: its own, Swagger UI and the dashboard
    pages = ("/openapi.json", "/docs", "/ui", "/ui/{path:path}", "/metrics")
    stale = {key for key in set(ROUTES) - routes if key[1] not in pages}
    assert not stale, f"ROUTES names routes that do not exist: {stale}"


GUARDED = sorted(
    key for key, roles in ROUTES.items() if roles is not PUBLIC and roles is not OWN_RULES
)


@pytest.mark.parametrize(("method", "template"), GUARDED)
async def test_strangers_are_refused_and_change_nothing(
    gate: Gate, method: str, template: str
) -> None:
    before = await gate.snapshot()
    strangers = {
        "no token": {},
        "malformed": {"Authorization": SECRETS["operator"]},  # no scheme
        "basic": {"Authorization": "Basic b3A6c2VjcmV0"},
        "unknown": bearer("not-a-token-of-ours"),
        "revoked": bearer(REVOKED),
        "expired": bearer(EXPIRED),
    }
    for who, headers in strangers.items():
        response = await gate.call(method, template, headers)
        assert response.status_code == 401, (who, response.status_code, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "secret" not in response.text
    for role in ("producer", "worker", "viewer"):
        if Role(role) in ROUTES[(method, template)]:
            continue
        response = await gate.call(method, template, bearer(SECRETS[role]))
        assert response.status_code == 403, (role, response.status_code, response.text)
        assert role in response.json()["message"]
    assert await gate.snapshot() == before


@pytest.mark.parametrize(("method", "template"), GUARDED)
async def test_admitted_roles_pass_the_gate(gate: Gate, method: str, template: str) -> None:
    for role in ("operator", *sorted(r.value for r in ROUTES[(method, template)])):
        response = await gate.call(method, template, bearer(SECRETS[role]))
        assert response.status_code not in (401, 403), (role, response.text)


async def test_public_routes_answer_anyone(gate: Gate) -> None:
    assert (await gate.http.get("/api/v1/health")).status_code == 200
    assert (await gate.http.get("/openapi.json")).status_code == 200


async def test_a_tenant_token_sees_and_touches_only_its_tenant(gate: Gate) -> None:
    acme = bearer(SECRETS["acme"])
    mine = await gate.http.post("/api/v1/tasks", json={"kind": "work"}, headers=acme)
    assert mine.status_code == 201 and mine.json()["tenant"] == "acme"
    other = gate.ids["task"]  # tenant beta's
    for path in (f"/api/v1/tasks/{other}", f"/api/v1/tasks/{other}/events",
                 f"/api/v1/jobs/{gate.ids['job']}"):  # fmt: skip
        response = await gate.http.get(path, headers=acme)
        assert response.status_code == 404, (path, response.text)
    canceled = await gate.http.post(f"/api/v1/tasks/{other}/cancel", headers=acme)
    assert canceled.status_code == 404
    assert (await gate.service.get(other)).state.value == "queued"
    listed = (await gate.http.get("/api/v1/tasks", headers=acme)).json()["tasks"]
    assert [t["id"] for t in listed] == [mine.json()["id"]]
    beta = await gate.http.get("/api/v1/tasks", params={"tenant": "beta"}, headers=acme)
    assert beta.status_code == 403
    foreign = {"kind": "work", "tenant": "beta"}
    assert (await gate.http.post("/api/v1/tasks", json=foreign, headers=acme)).status_code == 403
    batch = {"tasks": [{"kind": "work"}, foreign]}
    response = await gate.http.post("/api/v1/tasks/batch", json=batch, headers=acme)
    assert response.status_code == 403
    assert (await gate.http.get("/api/v1/stats", headers=acme)).status_code == 403
    own = await gate.http.get(f"/api/v1/tasks/{mine.json()['id']}", headers=acme)
    assert own.status_code == 200 and own.json()["position"] is not None


async def test_a_tenant_viewer_counts_only_its_tenants_tasks(gate: Gate) -> None:
    await gate.service.enqueue(TaskSpec("work", queue="scan", tenant="acme", priority=70))
    await gate.service.enqueue(TaskSpec("work", queue="scan", tenant="acme", delay=60))
    viewer = bearer(SECRETS["acme-viewer"])
    stats = await gate.http.get("/api/v1/stats", headers=viewer)
    assert stats.json() == {
        "total": 2, "states": {"queued": 1, "scheduled": 1}, "queues": 1, "unroutable": None,
    }  # fmt: skip
    queues = (await gate.http.get("/api/v1/queues", headers=viewer)).json()["queues"]
    assert queues == [{"name": "scan", "states": {"queued": 1, "scheduled": 1},
                       "queued_by_priority": {"70": 1}}]  # fmt: skip
    everyone = (await gate.http.get("/api/v1/stats", headers=bearer(SECRETS["viewer"]))).json()
    assert everyone["total"] == 4  # and tenant beta's two (the gate's task and job)


async def test_only_an_operator_submits_tasks_that_run_commands(gate: Gate) -> None:
    shell = {"kind": "shell", "payload": {"cmd": "id"}}
    producer = bearer(SECRETS["producer"])
    for path, body in (("/api/v1/tasks", shell), ("/api/v1/tasks/batch", {"tasks": [shell]}),
                       ("/api/v1/jobs", {"name": "j", "tasks": [shell]}),
                       ("/jobs", {"job_type": "shell", "payload": {"cmd": "id"}})):  # fmt: skip
        refused = await gate.http.post(path, json=body, headers=producer)
        assert refused.status_code == 403, (path, refused.text)
        assert "only an operator" in refused.json()["message"]
    shells = await gate.service.list_tasks(TaskFilter(kind="shell"), limit=10)
    assert shells[0] == []
    made = await gate.http.post("/api/v1/tasks", json=shell, headers=bearer(SECRETS["operator"]))
    assert made.status_code == 201


async def test_changes_are_recorded_with_the_tokens_name(gate: Gate) -> None:
    task = gate.ids["task"]
    response = await gate.http.post(
        f"/api/v1/tasks/{task}/cancel", headers=bearer(SECRETS["producer"])
    )
    assert response.status_code == 200
    last = (await gate.service.events(task))[-1]
    assert (last.kind, last.actor) == ("canceled", "token:producer")


async def test_a_stored_token_works_until_revoked_and_records_its_use(gate: Gate) -> None:
    now = gate.service.clock.now()
    record = TokenRecord("ci", digest("ci-secret-0123456789"), Role.VIEWER, None, now)
    assert await gate.service.backend.token_insert(record)
    response = await gate.http.get("/api/v1/stats", headers=bearer("ci-secret-0123456789"))
    assert response.status_code == 200
    (stored,) = [t for t in await gate.service.backend.token_list() if t.name == "ci"]
    assert stored.last_used_at is not None


def test_the_table_keeps_the_roles_apart() -> None:
    """The policy itself: viewers never change anything, workers never submit or read,
    producers never claim or report, and only operators administer."""
    for (method, path), roles in ROUTES.items():
        if roles is OWN_RULES:
            assert not path.startswith("/api/"), path  # only foreign paths keep their rules
            continue
        if method != "GET":
            assert Role.VIEWER not in roles, (method, path)
        if "/workers/" in path or path.endswith(("/heartbeat", "/progress", "/complete", "/fail")):
            assert roles == {Role.WORKER}, (method, path)
        if "dead-letter" in path or path.endswith(("/priority", "/retry")):
            assert roles == {Role.OPERATOR}, (method, path)
        if method == "POST" and path in ("/api/v1/tasks", "/api/v1/tasks/batch", "/api/v1/jobs"):
            assert roles == {Role.PRODUCER}, (method, path)


async def test_anonymous_submit_at_low_priority_only_when_enabled(tmp_path: Path) -> None:
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(anonymous_submit=True))
    await service.open()
    op = TokenRecord("op", digest(SECRETS["operator"]), Role.OPERATOR, None, service.clock.now())
    app = create_app(service, maintenance=False, tokens=Tokens([op]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        low = await http.post("/api/v1/tasks", json={"kind": "work"})
        assert low.status_code == 201 and low.json()["priority"] == 20
        for priority in ("mid", "high", 21):
            body = {"kind": "work", "priority": priority}
            response = await http.post("/api/v1/tasks", json=body)
            assert response.status_code == 403, response.text
            assert "low" in response.json()["message"]
        batch = {"tasks": [{"kind": "work"}, {"kind": "work", "priority": "high"}]}
        assert (await http.post("/api/v1/tasks/batch", json=batch)).status_code == 403
        assert (await http.get(f"/api/v1/tasks/{low.json()['id']}")).status_code == 401
        cancel = await http.post(f"/api/v1/tasks/{low.json()['id']}/cancel")
        assert cancel.status_code == 401
        high = {"kind": "work", "priority": "high"}
        with_token = await http.post(
            "/api/v1/tasks", json=high, headers=bearer(SECRETS["operator"])
        )
        assert with_token.status_code == 201
        assert [t.priority for t in (await service.list_tasks(TaskFilter()))[0]] == [80, 20]
    await service.close()


async def test_an_operator_makes_lists_and_revokes_tokens_over_http(gate: Gate) -> None:
    op = bearer(SECRETS["operator"])
    made = await gate.http.post(
        "/api/v1/admin/tokens",
        json={"role": "producer", "tenant": "acme", "name": "web"},
        headers=op,
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith("rota_") and made.json()["tenant"] == "acme"
    listed = (await gate.http.get("/api/v1/admin/tokens", headers=op)).json()["tokens"]
    assert "web" in [t["name"] for t in listed] and secret not in str(listed)
    submitted = await gate.http.post("/api/v1/tasks", json={"kind": "w"}, headers=bearer(secret))
    assert submitted.status_code == 201 and submitted.json()["tenant"] == "acme"
    again = await gate.http.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "web"},
                                 headers=op)  # fmt: skip
    assert again.status_code == 409
    bound = {"role": "worker", "tenant": "acme"}
    assert (await gate.http.post("/api/v1/admin/tokens", json=bound, headers=op)).status_code == 422
    revoked = await gate.http.post("/api/v1/admin/tokens/web/revoke", headers=op)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    missing = await gate.http.post("/api/v1/admin/tokens/nobody/revoke", headers=op)
    assert missing.status_code == 404


async def test_a_tenant_viewer_sees_only_its_tenants_tasks_on_the_workers(gate: Gate) -> None:
    await gate.service.enqueue(TaskSpec("work", queue="w-scope", tenant="acme"))
    await gate.service.enqueue(TaskSpec("work", queue="w-scope", tenant="beta"))
    await gate.service.register_worker(
        "shared-w", name="shared-w", host="h", queues=["w-scope"], concurrency=2, version="t"
    )
    assert len(await gate.service.claim("shared-w", queues=["w-scope"], limit=2)) == 2

    def running(answer: httpx.Response) -> list[str | None]:
        (worker,) = [w for w in answer.json()["workers"] if w["id"] == "shared-w"]
        return sorted(t["id"] for t in worker["running"])

    everyone = await gate.http.get("/api/v1/workers", headers=bearer(SECRETS["viewer"]))
    acme = await gate.http.get("/api/v1/workers", headers=bearer(SECRETS["acme-viewer"]))
    assert len(running(everyone)) == 2
    (mine,) = running(acme)
    assert (await gate.service.get(str(mine))).tenant == "acme"
