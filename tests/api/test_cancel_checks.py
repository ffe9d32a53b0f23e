"""POST /workers/{id}/canceled: which running leases have a cancel requested (a read)."""

from __future__ import annotations

from rota.client import AsyncClient
from tests.api.conftest import Api


async def test_names_the_leases_whose_cancel_was_requested(api: Api) -> None:
    for task_id in ("a", "b"):
        await api.submit(id=task_id)
    a, b = sorted(await api.claim(max=2), key=lambda t: t["id"])
    leases = [{"id": t["id"], "lease_token": t["lease_token"]} for t in (a, b)]
    answer = await api.post("/workers/w1/canceled", {"leases": leases})
    assert answer.status_code == 200
    assert answer.json() == {"cancel_requested": []}

    assert (await api.post("/tasks/b/cancel")).status_code == 200
    answer = await api.post("/workers/w1/canceled", {"leases": leases})
    assert answer.json() == {"cancel_requested": [{"id": "b", "lease_token": b["lease_token"]}]}
    # a read: the lease is not extended, the task still runs
    assert (await api.get("b"))["lease_expires_at"] == b["lease_expires_at"]


async def test_bad_ids_name_nothing_and_too_many_leases_are_refused(api: Api) -> None:
    for bad_id in ("a\x00", "", "x" * 500):
        bad = await api.post("/workers/w1/canceled", {"leases": [{"id": bad_id, "lease_token": 1}]})
        assert (bad.status_code, bad.json()) == (200, {"cancel_requested": []})
    many = [{"id": f"t{i}", "lease_token": 1} for i in range(1001)]
    assert (await api.post("/workers/w1/canceled", {"leases": many})).status_code == 422


async def test_the_client_asks_it(api: Api, client: AsyncClient) -> None:
    await api.submit(id="a")
    (a,) = await api.claim()
    await api.post("/tasks/a/cancel")
    found = await client.canceled_leases("w1", [("a", a["lease_token"]), ("zz", 3)])
    assert found == [("a", a["lease_token"])]
