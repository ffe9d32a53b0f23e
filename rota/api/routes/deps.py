from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from rota.api.access import authorize
from rota.core.auth import Principal
from rota.core.errors import ValidationError
from rota.core.ids import quote
from rota.service import Service
from rota.service.audit import check_reason
from rota.service.scope import Scope


async def get_service(request: Request) -> Service:
    """Async on purpose: FastAPI would run a sync dependency in a thread, per request."""
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(get_service)]


async def gate(request: Request) -> None:
    """The app-wide dependency, first on every route: who calls (401/403), then whether the
    query string is the route's own. The principal waits in ``request.state``."""
    request.state.principal = await authorize(request)
    known_query(request)


async def get_scope(request: Request) -> Scope:
    principal: Principal = request.state.principal  # set by gate, which runs first
    reason = check_reason(request.headers.get("x-rota-reason"))
    return Scope(request.app.state.service, principal, reason)


#: the service as the request's principal may see and touch it (its tenant, its actor)
Scoped = Annotated[Scope, Depends(get_scope)]


def known_query(request: Request) -> None:
    """Refuse query parameters the route does not take, as unknown body fields are refused:
    ``GET /tasks?job=<id>`` must not quietly list every task."""
    if not request.scope["query_string"]:
        return
    route = request.scope.get("route")
    allowed = _query_names(route.dependant) if isinstance(route, APIRoute) else frozenset()
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        names = ", ".join(quote(name) for name in unknown[:5])
        raise ValidationError(f"unknown query parameter(s) {names}; this route takes: {takes}")


def _query_names(dependant: Dependant) -> frozenset[str]:
    # walked per request that has a query string: a few attribute reads, no cache to keep
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query model
            names.update(field.alias or name for name, field in model.model_fields.items())
        else:
            names.add(param.alias)
    return frozenset(names).union(*(_query_names(sub) for sub in dependant.dependencies))
