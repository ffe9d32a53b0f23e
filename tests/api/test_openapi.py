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
