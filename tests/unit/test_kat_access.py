"""Who may call the KAT routes (rota/api/compat/kat/access.py): rota's roles, a token by
bearer or by basic auth (KAT's SCHEDULER_API URL with the token as its password), a tenant
token that sees its organisation's schedulers only, and errors in mula's shape."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from rota.api import create_app
from rota.backends.sqlite import SQLiteBackend
from rota.core.auth import Role, TokenRecord, digest
from rota.core.errors import ValidationError
from rota.service import Service
from rota.service.tokens import Tokens
from tests.api.conftest import BASE_URL, make_settings

SECRETS = {
    "operator": "op-secret-0123456789",
    "producer": "producer-secret-0123",
    "worker": "worker-secret-012345",
    "viewer": "viewer-secret-012345",
    "org1": "org1-producer-secret0",
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"}


def basic(name: str) -> dict[str, str]:
    pair = base64.b64encode(f"kat:{SECRETS[name]}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(compat="kat", kat_schedulers="boefje-org1,boefje-org2")
    service = Service(SQLiteBackend(tmp_path / "t.db"), settings)
    now = service.clock.now()
    configured = [
        TokenRecord(name, digest(SECRETS[name]), Role(name), None, now)
        for name in ("operator", "producer", "worker", "viewer")
    ] + [TokenRecord("org1", digest(SECRETS["org1"]), Role.PRODUCER, "org1", now)]
    app = create_app(service, maintenance=False, tokens=Tokens(configured, service.backend, None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


def item(org: str) -> bytes:
    data = {"boefje": {"id": "dns"}, "input_ooi": "Hostname|a", "organization": org}
    return orjson.dumps({"priority": 1, "data": data})


async def test_every_kat_route_needs_a_token_when_tokens_exist(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/schedulers"), ("GET", "/queues"), ("GET", "/tasks"),
                         ("POST", "/queues/boefje-org1/pop"), ("GET", "/tasks/stats")):  # fmt: skip
        refused = await http.request(method, path)
        assert refused.status_code == 401, (path, refused.text)
        assert "detail" in refused.json()
        wrong = await http.request(method, path, headers={"Authorization": "Basic a2F0Om5v"})
        assert wrong.status_code == 401
    assert (await http.get("/health")).status_code == 200  # liveness answers anyone


async def test_roles_as_on_rotas_own_routes(http: httpx.AsyncClient) -> None:
    push = "/queues/boefje-org1/push"
    assert (
        await http.post(push, content=item("org1"), headers=bearer("viewer"))
    ).status_code == 403
    assert (
        await http.post(push, content=item("org1"), headers=bearer("worker"))
    ).status_code == 403
    made = await http.post(push, content=item("org1"), headers=basic("producer"))
    assert made.status_code == 201, made.text
    pop = "/queues/boefje-org1/pop"
    assert (await http.post(pop, headers=bearer("producer"))).status_code == 403
    popped = await http.post(pop, headers=basic("worker"))  # a runner's URL carries its token
    assert popped.json()["id"] == made.json()["id"]
    task = f"/tasks/{made.json()['id']}"
    refused = await http.patch(task, json={"status": "completed"}, headers=bearer("producer"))
    assert refused.status_code == 403
    done = await http.patch(task, json={"status": "completed"}, headers=bearer("worker"))
    assert done.json()["status"] == "completed"
    off = {"enabled": False}
    scheduler = "/schedulers/boefje-org1"
    assert (await http.patch(scheduler, json=off, headers=bearer("viewer"))).status_code == 403
    patched = await http.patch(scheduler, json=off, headers=bearer("operator"))
    assert patched.json()["enabled"] is False


async def test_a_tenant_token_sees_its_organisation_only(http: httpx.AsyncClient) -> None:
    producer = bearer("producer")
    other = await http.post("/queues/boefje-org2/push", content=item("org2"), headers=producer)
    assert other.status_code == 201
    org1 = bearer("org1")
    shown = await http.get("/schedulers", headers=org1)
    assert [s["id"] for s in shown.json()] == ["boefje-org1"]
    assert [q["id"] for q in (await http.get("/queues", headers=org1)).json()] == ["boefje-org1"]
    hidden = await http.get("/schedulers/boefje-org2", headers=org1)
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "scheduler not found"})
    pushed = await http.post("/queues/boefje-org2/push", content=item("org2"), headers=org1)
    assert (pushed.status_code, pushed.json()) == (404, {"detail": "queue not found"})
    task = await http.get(f"/tasks/{other.json()['id']}", headers=org1)
    assert (task.status_code, task.json()) == (404, {"detail": "task not found"})
    assert (await http.get("/tasks", params={"limit": 0}, headers=org1)).json()["count"] == 0
    everyone = await http.get("/tasks", params={"limit": 0}, headers=bearer("viewer"))
    assert everyone.json()["count"] == 1
    mine = await http.post("/queues/boefje-org1/push", content=item("org1"), headers=org1)
    assert mine.status_code == 201


def test_kat_and_dms_are_never_mounted_together(tmp_path: Path) -> None:
    service = Service(SQLiteBackend(tmp_path / "t.db"), make_settings(compat="dms,kat"))
    with pytest.raises(ValidationError, match="serve the same paths"):
        create_app(service, maintenance=False)


def test_an_unknown_scheduler_type_is_a_startup_error() -> None:
    with pytest.raises(Exception, match="boefje or normalizer"):
        make_settings(compat="kat", kat_schedulers="boefje-org1,scanner-org1")
