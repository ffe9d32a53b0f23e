"""Check every answer of the app under test against its own OpenAPI document: the status
must be documented for that route, and a JSON body must validate against the documented
model (``rota.api.outputs``, strict: no field the document does not name)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from rota.api import outputs


class Documented:
    def __init__(self, app: FastAPI) -> None:
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for path, operations in app.openapi()["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, operation in operations.items():
                self.routes.append((method.upper(), pattern, operation["responses"]))
        self.checked = 0

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        found = [r for m, p, r in self.routes if m == request.method and p.match(request.url.path)]
        if not found:
            return  # a path or method the API does not have (404/405 from the router)
        documented = found[0]
        status = str(response.status_code)
        where = f"{request.method} {request.url.path} -> {status}"
        assert status in documented, f"{where} is not in the OpenAPI document"
        await response.aread()
        content = documented[status].get("content", {}).get("application/json")
        if content is None:
            assert not response.content, f"{where}: documented without a body"
            return
        ref = content["schema"].get("$ref", "")
        model = getattr(outputs, ref.rsplit("/", 1)[-1], None)
        assert model is not None, f"{where}: documented without a model"
        model.model_validate(response.json())
        self.checked += 1
