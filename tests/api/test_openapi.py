"""The OpenAPI document describes what the server sends (every answer of the API suite is
checked against it by tests/api/documented.py), and /docs works with no internet."""

from __future__ import annotations

import re

from rota.api import outputs
from rota.api.access import OWN_RULES, PUBLIC, ROUTES
from tests.api.conftest import Api


async def test_every_operation_documents_its_success_and_error_shapes(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            statuses = operation["responses"]
            success = [s for s in statuses if s.startswith("2")]
            assert success, f"{where} documents no success"
            for status, answer in statuses.items():
                content = answer.get("content", {}).get("application/json")
                if status == "204":
                    assert content is None, where
                    continue
                assert content is not None and "$ref" in content["schema"], (where, status)
                name = content["schema"]["$ref"].rsplit("/", 1)[-1]
                assert hasattr(outputs, name), (where, status, name)
                if status.startswith(("4", "5")) and path != "/api/v1/health":
                    assert name == "ErrorOut", (where, status)
            assert "422" in statuses and "HTTPValidationError" not in str(operation), where
            guarded = ROUTES[(method.upper(), path)] not in (PUBLIC, OWN_RULES)
            assert ("security" in operation) == guarded, where
            if guarded:
                assert {"401", "403"} <= set(statuses), where


async def test_docs_load_everything_from_this_server(api: Api) -> None:
    page = await api.http.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "http://" not in page.text and "https://" not in page.text
    for url in urls:
        asset = await api.http.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url


async def test_a_405_names_every_method_the_path_serves(api: Api) -> None:
    # Starlette's own 405 names the first route's methods only (POST for /api/v1/tasks)
    refused = await api.http.delete("/api/v1/tasks")
    assert refused.status_code == 405
    allowed = {m.strip() for m in refused.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed


async def test_cross_field_rules_are_in_the_document(api: Api) -> None:
    schemas = (await api.http.get("/openapi.json")).json()["components"]["schemas"]
    both = [rule["not"]["required"] for rule in schemas["TaskIn"]["allOf"]]
    assert both == [["run_at", "delay"], ["expires_at", "expires_in"], ["priority", "ranker"],
                    ["unique_key", "unique"], ["on_conflict"], ["unique_for"],
                    ["unique_while_running"]]  # fmt: skip
    assert schemas["IntakeIn"]["not"]["required"] == ["queue", "tenant"]
    # and the server enforces what the document says
    answer = await api.http.post(
        "/api/v1/tasks", json={"kind": "k", "run_at": "2030-01-01T00:00:00Z", "delay": 1}
    )
    assert answer.status_code == 422 and "not both" in answer.json()["message"]
    assert (
        await api.http.post("/api/v1/tasks", json={"kind": "k", "run_at": None, "delay": 1})
    ).status_code == 201


async def test_a_run_time_past_the_calendar_is_its_edge(api: Api) -> None:
    answer = await api.http.post(
        "/api/v1/tasks", json={"kind": "k", "run_at": "9999-12-31T23:00:00-05:00"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] == "scheduled"
    assert answer.json()["run_at"].startswith("9999-12-31")


async def test_a_report_names_a_valid_worker(api: Api) -> None:
    answer = await api.http.post("/api/v1/workers/%C3%97/report", json={})
    assert answer.status_code == 422 and "worker id" in answer.json()["message"]


async def test_resuming_checks_the_name(api: Api) -> None:
    answer = await api.http.post("/api/v1/admin/intake/resume", json={"tenant": "¢É"})
    assert answer.status_code == 422 and "tenant" in answer.json()["message"]


async def test_the_links_chain_submit_claim_and_report(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    operation_ids = {
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    }
    claim = document["paths"]["/api/v1/workers/{worker_id}/claim"]["post"]
    submit = document["paths"]["/api/v1/tasks"]["post"]
    assert "ClaimIt" in submit["responses"]["201"]["links"]
    assert {"Complete", "Report"} <= set(claim["responses"]["200"]["links"])
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in operation_ids, link
