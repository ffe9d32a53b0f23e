"""Who may call the KAT routes, and their errors as mula sends them (``{"detail": ...}``).

mula has no access rules; rota's roles hold here as on its native routes. The routes are
``OWN_RULES`` in rota's table (some share their path with DMS's) and check their roles
here: a rota token as ``Authorization: Bearer <token>``, or as the password of HTTP basic
auth, which is what KAT's clients send when their ``SCHEDULER_API`` URL carries it
(``http://kat:<token>@rota:8000``: both rocky and the boefjes use ``requests``, which
turns a URL's user info into basic auth). With no token configured a loopback server is
open, as everywhere in rota. A token bound to a tenant sees only the schedulers of that
organisation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from rota.api.access import ANONYMOUS
from rota.api.encode import FastJSON
from rota.api.errors import error_body
from rota.core.auth import OPEN, Principal, Role
from rota.core.errors import RotaError, ValidationError
from rota.service.audit import check_reason
from rota.service.scope import Scope

READ = frozenset({Role.PRODUCER, Role.VIEWER, Role.WORKER})
SUBMIT = frozenset({Role.PRODUCER})
WORK = frozenset({Role.WORKER})
#: a producer may cancel through PATCH /tasks/{id}; workers report every status
PATCH_TASK = frozenset({Role.WORKER, Role.PRODUCER})
ADMIN: frozenset[Role] = frozenset()  # the operator only


class KatError(Exception):
    """An answer in mula's words: status, ``detail``, and headers (Retry-After)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer, Basic realm="rota"'})


async def caller(request: Request, roles: frozenset[Role]) -> Scope:
    """The service as this request's caller may see it; 401/403 otherwise."""
    principal: Principal = request.state.principal
    if principal is ANONYMOUS:  # no bearer token: basic auth, or an open server
        header = request.headers.get("authorization")
        tokens = request.app.state.tokens
        if header is not None and header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _unauthorized("the basic credentials are not base64 of user:token") from None
            found = await tokens.resolve(decoded.partition(":")[2].strip())
            if found is None:
                raise _unauthorized("the token is unknown, expired or revoked")
            principal = found
        elif await tokens.required():
            raise _unauthorized(
                "send a rota token: Authorization: Bearer <token>, or as the password in "
                "SCHEDULER_API (http://kat:<token>@host:port)"
            )
        else:
            principal = OPEN
    if principal.role is not Role.OPERATOR and principal.role not in roles:
        admitted = ", ".join(sorted(r.value for r in roles | {Role.OPERATOR}))
        raise HTTPException(
            403, f"a {principal.role.value} token cannot do this; it needs: {admitted}"
        )
    reason = check_reason(request.headers.get("x-rota-reason"))
    return Scope(request.app.state.service, principal, reason)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class KatRoute(APIRoute):
    """Every answer of a KAT route in mula's error shape, whatever raised it."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except KatError as exc:
                return FastJSON({"detail": exc.detail}, exc.status, headers=exc.headers)
            except HTTPException as exc:
                return FastJSON({"detail": exc.detail}, exc.status_code, headers=exc.headers)
            except RequestValidationError as exc:
                return FastJSON({"detail": _describe(exc)}, 422)
            except RotaError as exc:
                status, body = error_body(exc)
                if isinstance(exc, ValidationError) and status == 422:
                    status = 400  # bad input to a KAT route: mula's 400
                headers = {"Retry-After": "60"} if status in (409, 429, 503) else None
                return FastJSON({"detail": body["message"]}, status, headers=headers)

        return run


def _describe(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type")}
        for e in exc.errors()[:10]
    ]
