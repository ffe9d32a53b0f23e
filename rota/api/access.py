"""Who may call what: one table of every route and the roles it admits, deny by default.

Every request resolves its principal once (``Authorization: Bearer <token>``) before the
route runs: a missing or unknown token is 401, a known token without the role 403, and a
route missing from ``ROUTES`` is refused to everyone (a test fails when a route is added
without an entry). ``PUBLIC`` routes answer anyone: liveness and the API's own description.
With no token configured or stored, a loopback server serves open (``rota serve`` says so
at start; it refuses a non-loopback address then, unless ``--insecure``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from rota.core.auth import ANONYMOUS_PRODUCER, OPEN, Principal, Role
from rota.service.tokens import Tokens

PUBLIC: frozenset[Role] = frozenset()
#: a compatibility route: it applies its foreign API's own access rules (rota/api/compat/)
OWN_RULES: frozenset[Role] = frozenset({Role.PRODUCER, Role.WORKER, Role.VIEWER})
SUBMIT = frozenset({Role.PRODUCER})
READ = frozenset({Role.PRODUCER, Role.VIEWER})  # a tenant-bound token reads its tenant's
VIEW = frozenset({Role.VIEWER})
WORK = frozenset({Role.WORKER})
ADMIN = frozenset({Role.OPERATOR})

#: (method, path template) -> the roles admitted (``operator`` always is)
ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/v1/tasks"): SUBMIT,
    ("POST", "/api/v1/tasks/batch"): SUBMIT,
    ("GET", "/api/v1/tasks"): READ,
    ("GET", "/api/v1/tasks/{task_id}"): READ,
    ("GET", "/api/v1/tasks/{task_id}/events"): READ,
    ("POST", "/api/v1/tasks/{task_id}/cancel"): SUBMIT,
    ("POST", "/api/v1/tasks/{task_id}/priority"): ADMIN,
    ("POST", "/api/v1/tasks/{task_id}/move"): SUBMIT,
    ("POST", "/api/v1/tasks/{task_id}/retry"): ADMIN,
    ("POST", "/api/v1/dead-letter/retry"): ADMIN,
    ("POST", "/api/v1/dead-letter/discard"): ADMIN,
    ("POST", "/api/v1/jobs"): SUBMIT,
    ("GET", "/api/v1/jobs/{job_id}"): READ,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): SUBMIT,
    ("PUT", "/api/v1/workers/{worker_id}"): WORK,
    ("GET", "/api/v1/workers"): VIEW,
    ("POST", "/api/v1/workers/{worker_id}/claim"): WORK,
    ("POST", "/api/v1/workers/{worker_id}/report"): WORK,
    ("POST", "/api/v1/tasks/{task_id}/heartbeat"): WORK,
    ("POST", "/api/v1/workers/{worker_id}/canceled"): WORK,
    ("POST", "/api/v1/tasks/{task_id}/progress"): WORK,
    ("POST", "/api/v1/tasks/{task_id}/complete"): WORK,
    ("POST", "/api/v1/tasks/{task_id}/fail"): WORK,
    ("GET", "/api/v1/queues"): VIEW,
    ("GET", "/api/v1/queues/{name}"): VIEW,
    ("PATCH", "/api/v1/queues/{name}"): ADMIN,
    ("GET", "/api/v1/stats"): VIEW,
    ("POST", "/api/v1/admin/tokens"): ADMIN,
    ("GET", "/api/v1/admin/tokens"): ADMIN,
    ("POST", "/api/v1/admin/tokens/{name}/revoke"): ADMIN,
    ("GET", "/api/v1/admin/intake"): ADMIN,
    ("POST", "/api/v1/admin/intake/block"): ADMIN,
    ("POST", "/api/v1/admin/intake/resume"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/admin/dispatch"): ADMIN,
    ("POST", "/api/v1/admin/tasks/cancel"): ADMIN,
    ("POST", "/api/v1/admin/tasks/priority"): ADMIN,
    ("POST", "/api/v1/admin/dispatch/pause"): ADMIN,
    ("POST", "/api/v1/admin/dispatch/resume"): ADMIN,
    ("GET", "/api/v1/admin/tenants"): ADMIN,
    ("POST", "/api/v1/admin/tenants/disable"): ADMIN,
    ("POST", "/api/v1/admin/tenants/enable"): ADMIN,
    ("POST", "/api/v1/schedules"): ADMIN,
    ("GET", "/api/v1/schedules"): VIEW,
    ("GET", "/api/v1/schedules/{schedule_id}"): VIEW,
    ("PATCH", "/api/v1/schedules/{schedule_id}"): ADMIN,
    ("DELETE", "/api/v1/schedules/{schedule_id}"): ADMIN,
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/metrics"): VIEW,  # Prometheus text, outside the OpenAPI document
    ("GET", "/openapi.json"): PUBLIC,
    # DMS (ROTA_COMPAT=dms)
    ("POST", "/tasks"): OWN_RULES,
    ("POST", "/tasks/cancel"): OWN_RULES,
    ("GET", "/tasks/{task_id}"): OWN_RULES,
    ("GET", "/queues/overview"): OWN_RULES,
    ("POST", "/submitter/next"): OWN_RULES,
    ("POST", "/admin/priority"): OWN_RULES,
    ("POST", "/admin/block"): OWN_RULES,
    ("POST", "/admin/resume"): OWN_RULES,
    ("GET", "/admin/block"): OWN_RULES,
    ("GET", "/stats"): OWN_RULES,
    ("GET", "/healthz"): OWN_RULES,
    # cd (ROTA_COMPAT=cd): rota's roles, as cd has no access rules of its own
    ("POST", "/jobs"): SUBMIT,
    ("GET", "/jobs/{job_id}"): READ,
    ("GET", "/next-job"): WORK,
    ("POST", "/jobs/{job_id}/complete"): WORK,
    # KAT's mula (ROTA_COMPAT=kat): rota's roles, checked by the router (rota/api/compat/kat/
    # access.py), which also takes a token by basic auth; POST /tasks and GET /tasks/{task_id}
    # are DMS's keys above (the two routers are never mounted together)
    ("GET", "/health"): PUBLIC,
    ("GET", "/schedulers"): OWN_RULES,
    ("GET", "/schedulers/{scheduler_id}"): OWN_RULES,
    ("PATCH", "/schedulers/{scheduler_id}"): OWN_RULES,
    ("GET", "/schedulers/{scheduler_id}/tasks"): OWN_RULES,
    ("POST", "/schedulers/{scheduler_id}/tasks"): OWN_RULES,
    ("GET", "/queues"): OWN_RULES,
    ("GET", "/queues/{queue_id}"): OWN_RULES,
    ("POST", "/queues/{queue_id}/push"): OWN_RULES,
    ("GET", "/queues/{queue_id}/pop"): OWN_RULES,
    ("POST", "/queues/{queue_id}/pop"): OWN_RULES,
    ("GET", "/tasks"): OWN_RULES,
    ("GET", "/tasks/stats"): OWN_RULES,
    ("GET", "/tasks/stats/{scheduler_id}"): OWN_RULES,
    ("PATCH", "/tasks/{task_id}"): OWN_RULES,
    ("GET", "/docs"): PUBLIC,
    # the dashboard's page and files (rota/api/ui.py): no data, which it reads from the API
    ("GET", "/ui"): PUBLIC,
    ("GET", "/ui/{path:path}"): PUBLIC,
}


#: what a caller with no token may do where ``ROTA_ANONYMOUS_SUBMIT`` is on
ANONYMOUS_ROUTES = frozenset({("POST", "/api/v1/tasks"), ("POST", "/api/v1/tasks/batch")})

#: the caller of a public route, whoever it is
ANONYMOUS = Principal("anonymous", Role.VIEWER)


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Name the bearer scheme in the OpenAPI document, on every route that needs a token,
    with the roles it admits in the operation's description."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            admitted = ROUTES.get((method.upper(), path))
            if admitted is None or admitted is PUBLIC or admitted is OWN_RULES:
                continue
            operation["security"] = [{"bearer": []}]
            roles = ", ".join(sorted(r.value for r in admitted | ADMIN))
            operation["description"] = (
                operation.get("description", "") + f"\n\nRoles: {roles}."
            ).strip()
    return schema


def route_key(request: Request) -> tuple[str, str] | None:
    route = request.scope.get("route")
    if route is None:
        return None
    path = route.path_format if isinstance(route, APIRoute) else getattr(route, "path", None)
    return None if path is None else (request.method, path)


async def authorize(request: Request) -> Principal:
    """The request's principal, or a 401/403 before any work is done."""
    tokens: Tokens = request.app.state.tokens
    key = route_key(request)
    admitted = ROUTES.get(key) if key is not None else None
    if admitted is None:
        raise HTTPException(403, "this route is not open to any role")
    if admitted is PUBLIC:
        return ANONYMOUS  # no store read: liveness must answer while the store is down
    if admitted is OWN_RULES:  # a bearer token, if sent, must be good; the route decides
        header = request.headers.get("authorization")
        if header is None or not header.lower().startswith("bearer "):
            return ANONYMOUS
        principal = await tokens.resolve(header[7:].strip())
        if principal is None:
            raise _unauthorized("the token is unknown, expired or revoked")
        return principal
    header = request.headers.get("authorization")
    if header is None:
        if not await tokens.required():
            return OPEN
        if key in ANONYMOUS_ROUTES and request.app.state.service.settings.anonymous_submit:
            return ANONYMOUS_PRODUCER
        raise _unauthorized("send Authorization: Bearer <token>")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("the Authorization header must be: Bearer <token>")
    principal = await tokens.resolve(secret.strip())
    if principal is None:
        raise _unauthorized("the token is unknown, expired or revoked")
    if principal.role is not Role.OPERATOR and principal.role not in admitted:
        roles = ", ".join(sorted(r.value for r in admitted | ADMIN))
        raise HTTPException(
            403, f"a {principal.role.value} token cannot do this; it needs: {roles}"
        )
    return principal


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
