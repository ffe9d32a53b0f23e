"""A rank over HTTP: the submit body and a batch item carry it, claims follow it, the
clients send it, the OpenAPI document states its bounds, and a rank out of them (or on a
fair queue) is a 422 that says them; update_priority answers 200 with the moved holder and
409 for a submit that changes nothing."""

from __future__ import annotations

from rota.client import AsyncClient
from tests.api.conftest import Api
from tests.api.test_bad_input import assert_error


async def test_a_rank_orders_claims_within_a_priority(api: Api, client: AsyncClient) -> None:
    made = await api.http.post("/api/v1/tasks", json={"kind": "k", "queue": "q", "rank": 7})
    assert made.status_code == 201, made.text
    batch = {"tasks": [{"kind": "k", "queue": "q", "rank": 1.5}, {"kind": "k", "queue": "q"}]}
    answered = await api.http.post("/api/v1/tasks/batch", json=batch)
    assert answered.status_code == 201, answered.text
    zero = await client.submit("k", queue="q", rank=0)
    ids = [made.json()["id"], *(t["id"] for t in answered.json()["tasks"]), zero.id]
    claimed = await client.claim("w", queues=["q"], max=10)
    assert [t.id for t in claimed] == [ids[3], ids[1], ids[2], ids[0]]  # 0, 1.5, seq 3, 7


async def test_a_rank_out_of_bounds_or_on_a_fair_queue_is_refused(api: Api) -> None:
    for rank in (-1, 2**44, 1e300):
        bad = await api.http.post("/api/v1/tasks", json={"kind": "k", "rank": rank})
        assert_error(bad, 422, "0 <= rank < 2^44")
    fair = await api.http.patch("/api/v1/queues/f", json={"fairness": "round_robin"})
    assert fair.status_code == 200, fair.text
    bad = await api.http.post("/api/v1/tasks", json={"kind": "k", "queue": "f", "rank": 1})
    assert_error(bad, 422, "queue 'f' shares by fairness; a rank is not allowed there")


async def test_the_document_states_the_bounds(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    rank = schema["components"]["schemas"]["TaskIn"]["properties"]["rank"]
    assert rank["minimum"] == 0 and rank["exclusiveMaximum"] == 2**44
    assert "lower first" in rank["description"]


async def test_update_priority_over_http(api: Api) -> None:
    task = {"kind": "k", "queue": "q", "unique_key": "a", "on_conflict": "update_priority"}
    made = await api.http.post("/api/v1/tasks", json={**task, "rank": 5})
    assert made.status_code == 201, made.text
    assert_error(await api.http.post("/api/v1/tasks", json={**task, "rank": 5}), 409, "unchanged")
    moved = await api.http.post("/api/v1/tasks", json={**task, "rank": 1, "priority": 90})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == made.json()["id"] and moved.json()["priority"] == 90


async def test_a_ranker_gives_a_priority_and_a_rank(api: Api, client: AsyncClient) -> None:
    body = {"kind": "k", "queue": "q", "ranker": {"name": "kat_normalizer"}}
    older = {"raw_data": {"boefje_meta": {"ended_at": "2023-12-01T10:00:00Z"}}}
    newer = {"raw_data": {"boefje_meta": {"ended_at": "2023-12-01T11:00:00Z"}}}
    late = await api.http.post("/api/v1/tasks", json={**body, "payload": newer})
    early = await api.http.post("/api/v1/tasks", json={**body, "payload": older})
    never = await api.http.post("/api/v1/tasks", json={**body, "ranker": {"name": "kat_boefje"}})
    assert [r.status_code for r in (late, early, never)] == [201, 201, 201]
    assert {r.json()["priority"] for r in (late, early, never)} == {50}
    claimed = await client.claim("w", queues=["q"], max=10)
    assert [t.id for t in claimed] == [r.json()["id"] for r in (never, early, late)]
