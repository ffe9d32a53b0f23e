"""KAT's filtered pop (rota/api/compat/kat/queues.py) where the live-server walk cannot
reach: another pop taking the match between the search and the claim, and a queue whose
global limits a claim of given tasks cannot weigh."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
import pytest

from rota.api import create_app
from rota.backends.memory import MemoryBackend
from rota.core.models import Task
from rota.service import Service
from tests.api.conftest import BASE_URL, make_settings

QUEUE = "boefje-org1"


@pytest.fixture
def service() -> Service:
    return Service(MemoryBackend(), make_settings(compat="kat", kat_schedulers=QUEUE))


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service, maintenance=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


async def push(http: httpx.AsyncClient, ooi: str, plugin: str, priority: int) -> str:
    data = {"boefje": {"id": plugin}, "input_ooi": ooi, "organization": "org1"}
    answer = await http.post(f"/queues/{QUEUE}/push", json={"priority": priority, "data": data})
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["id"]
    return task_id


def by_plugin(plugin: str) -> dict[str, Any]:
    return {"filters": [{"column": "data", "field": "boefje__id", "operator": "==",
                         "value": plugin}]}  # fmt: skip


async def test_a_match_taken_meanwhile_makes_the_pop_search_once_more(
    http: httpx.AsyncClient, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    await push(http, "Hostname|a", "dns", 3)
    b = await push(http, "Hostname|b", "nmap", 5)
    c = await push(http, "Hostname|c", "nmap", 7)
    claim, asked = service.claim, list[tuple[str, ...]]()

    async def racing(worker_id: str, *, task_ids: Sequence[str] = (), **kw: Any) -> list[Task]:
        asked.append(tuple(task_ids))
        if len(asked) == 1:  # another pop takes the match first
            assert [t.id for t in await claim("other", task_ids=task_ids)] == [b]
        return await claim(worker_id, task_ids=task_ids, **kw)

    monkeypatch.setattr(service, "claim", racing)
    answer = await http.post(f"/queues/{QUEUE}/pop", json=by_plugin("nmap"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == c
    assert asked == [(b,), (c,)]

    # taken each time: this pop gets nothing (null, as an empty pop)
    asked.clear()
    d = await push(http, "Hostname|d", "nmap", 9)

    async def always_late(worker_id: str, *, task_ids: Sequence[str] = (), **kw: Any) -> list[Task]:
        asked.append(tuple(task_ids))
        await claim("other", task_ids=task_ids)
        return await claim(worker_id, task_ids=task_ids, **kw)

    monkeypatch.setattr(service, "claim", always_late)
    e = await push(http, "Hostname|e", "nmap", 10)
    answer = await http.post(f"/queues/{QUEUE}/pop", json=by_plugin("nmap"))
    assert (answer.status_code, answer.json()) == (200, None)
    assert asked == [(d,), (e,)]


async def test_an_empty_queue_pops_null_even_with_filters(http: httpx.AsyncClient) -> None:
    answer = await http.post(f"/queues/{QUEUE}/pop", json=by_plugin("nmap"))
    assert (answer.status_code, answer.json()) == (200, None)


async def test_a_filtered_pop_on_a_limited_queue_is_a_409(http: httpx.AsyncClient) -> None:
    await push(http, "Hostname|a", "dns", 3)
    b = await push(http, "Hostname|b", "nmap", 5)
    limited = await http.patch(f"/api/v1/queues/{QUEUE}", json={"concurrency_limit": 4})
    assert limited.status_code == 200, limited.text
    answer = await http.post(f"/queues/{QUEUE}/pop", json=by_plugin("nmap"))
    assert answer.status_code == 409, answer.text
    assert "global limits" in orjson.loads(answer.content)["detail"]
    assert (await http.get(f"/tasks/{b}")).json()["status"] == "queued"
    unfiltered = await http.post(f"/queues/{QUEUE}/pop")
    assert unfiltered.status_code == 200 and unfiltered.json()["id"] != b
