"""Disabling a tenant's scheduling over HTTP, the CLI's and the clients' way in: its submits
get 503 with the reason and ``Retry-After``, claims leave its tasks waiting, the cancel option
cancels them, enabling hands them out again, and each action is in the audit log."""

from __future__ import annotations

from rota.client import AsyncClient
from tests.api.conftest import Api
from tests.api.test_bad_input import assert_error

ADMIN = "/api/v1/admin/tenants"


async def test_disable_and_enable_a_tenant(api: Api) -> None:
    post = api.http.post
    waiting = await api.submit(kind="k", tenant="acme", priority=90)
    other = await api.submit(kind="k", tenant="beta")
    off = await post(f"{ADMIN}/disable", json={"tenant": "acme", "reason": "unpaid"},
                     headers={"X-Rota-Reason": "ticket 42"})  # fmt: skip
    assert off.status_code == 200
    assert {k: off.json()[k] for k in ("tenant", "reason", "by", "canceled")} == {
        "tenant": "acme", "reason": "unpaid", "by": "api", "canceled": 0,
    }  # fmt: skip
    listed = (await api.http.get(ADMIN)).json()["disabled"]
    assert [(d["tenant"], d["reason"]) for d in listed] == [("acme", "unpaid")]

    refused = await post("/api/v1/tasks", json={"kind": "k", "tenant": "acme"})
    assert_error(refused, 503, "tenant 'acme' is disabled", "unpaid")
    assert "Retry-After" in refused.headers
    claimed = await api.claim(max=10)
    assert [t["id"] for t in claimed] == [other["id"]]

    assert (await post(f"{ADMIN}/enable", json={"tenant": "acme"})).json() == {"enabled": True}
    assert (await post(f"{ADMIN}/enable", json={"tenant": "acme"})).json() == {"enabled": False}
    assert [t["id"] for t in await api.claim(max=10)] == [waiting["id"]]

    log = (await api.http.get("/api/v1/audit")).json()["entries"]
    assert [(e["action"], e["target"]) for e in log] == [
        ("tenant.enable", "acme"), ("tenant.enable", "acme"), ("tenant.disable", "acme"),
    ]  # fmt: skip
    assert log[2]["reason"] == "unpaid" and log[2]["detail"]["cancel_waiting"] is False


async def test_the_client_disables_with_cancel(api: Api, client: AsyncClient) -> None:
    ids = [(await api.submit(kind="k", tenant="acme"))["id"] for _ in range(3)]
    made = await client.disable_tenant("acme", "offboarded", cancel_waiting=True)
    assert made["canceled"] == 3
    assert {(await api.get(i))["state"] for i in ids} == {"canceled"}
    assert [d["tenant"] for d in await client.disabled_tenants()] == ["acme"]
    assert await client.enable_tenant("acme")
    assert await client.disabled_tenants() == []


async def test_a_bad_disable_is_refused_and_disables_nothing(api: Api) -> None:
    bad = await api.http.post(f"{ADMIN}/disable", json={"tenant": "no spaces", "reason": "x"})
    assert bad.status_code == 422
    no_reason = await api.http.post(f"{ADMIN}/disable", json={"tenant": "acme", "reason": ""})
    assert no_reason.status_code == 422
    assert (await api.http.get(ADMIN)).json()["disabled"] == []
