"""A short way through the app for the two requests on the path from submit to start.

``POST /api/v1/tasks`` (a submit) and ``POST /api/v1/workers/{id}/claim`` are the requests
a task's start waits on, and the most frequent. Through FastAPI each passed its exception
middleware, the router's walk over every route, the dependency solver and the JSON body
reader: 174 µs of CPU a submit on the in-memory store, of which the insert took 15. Here
the same steps run directly, in the same order, with the same code: ``authorize`` (the
route's roles), the ``X-Rota-Reason`` check, the body model's validation, then the route's
own function; its errors answered by the app's own handlers: 59 µs through the app.

Anything unusual goes through the whole app instead, before anything was done: another
method or path, a query string, a body that is not plain JSON, a caller the route refuses,
a body the model refuses. So every refusal is the app's, word for word. ``BodyLimit``
stays outside this middleware: the body is already read within its limits.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable
from typing import Any

import pydantic
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rota.api.access import authorize
from rota.api.routes import API_PREFIX, tasks, workers
from rota.api.schemas import ClaimIn, TaskIn
from rota.core.errors import RotaError
from rota.service.audit import check_reason
from rota.service.scope import Scope as Scoped

SUBMIT = f"{API_PREFIX}/tasks"
CLAIM_HEAD, CLAIM_TAIL = f"{API_PREFIX}/workers/", "/claim"
#: the refusals that send a request through the whole app, to be answered there
_DECLINED = (HTTPException, RotaError, pydantic.ValidationError, ValueError, RecursionError)


def _route(router: Any, path: str) -> APIRoute:
    return next(
        r for r in router.routes
        if isinstance(r, APIRoute) and r.path_format == path and "POST" in (r.methods or ())
    )  # fmt: skip


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._submit = _route(tasks.router, SUBMIT)
        self._claim = _route(workers.router, f"{CLAIM_HEAD}{{worker_id}}{CLAIM_TAIL}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._which(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        body, whole = await _read(receive)

        async def replay() -> Message:
            nonlocal whole
            if whole is None:
                return await receive()
            message, whole = whole, None
            return message

        if not await self._serve(route, scope, body, replay, send):
            await self.app(scope, replay, send)

    def _which(self, scope: Scope) -> APIRoute | None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            return None
        if not any(n == b"content-type" and v == b"application/json" for n, v in scope["headers"]):
            return None
        path: str = scope["path"]
        if path == SUBMIT:
            return self._submit
        return self._claim if _worker(path) else None

    async def _serve(
        self, route: APIRoute, scope: Scope, body: bytes | None, receive: Receive, send: Send
    ) -> bool:
        """Answer the request; False, having done nothing, when the app should."""
        if body is None:
            return False
        scope = {**scope, "route": route}
        request = Request(scope, receive)
        app: FastAPI = scope["app"]
        try:
            principal = await authorize(request)
            reason = check_reason(request.headers.get("x-rota-reason"))
            data = json.loads(body)  # as FastAPI reads it: orjson makes 10**30 a float
            if route is self._submit:
                task = TaskIn.model_validate(data)
                answer = tasks.submit(task, Scoped(app.state.service, principal, reason), request)
            else:
                claim = ClaimIn.model_validate(data)
                answer = workers.claim(_worker(scope["path"]), claim, app.state.service)
        except _DECLINED:
            return False
        response = await _answered(app, request, answer)
        await response(scope, receive, send)
        return True


def _worker(path: str) -> str:
    """The worker id of a claim's path (one segment, as the route's template matches it);
    '' for any other path."""
    if not (path.startswith(CLAIM_HEAD) and path.endswith(CLAIM_TAIL)):
        return ""
    worker = path[len(CLAIM_HEAD) : -len(CLAIM_TAIL)]
    return "" if "/" in worker else worker


async def _read(receive: Receive) -> tuple[bytes | None, Message | None]:
    """The body when it came in one message (as ``BodyLimit`` replays it), and that
    message; otherwise None and the first message, for the app to read on from."""
    message = await receive()
    if message["type"] != "http.request" or message.get("more_body", False):
        return None, message
    return message.get("body", b""), message


async def _answered(app: FastAPI, request: Request, answer: Awaitable[Response]) -> Response:
    """The route's response, or the app's own handler's answer to what it raised."""
    try:
        return await answer
    except Exception as exc:
        handlers = app.exception_handlers
        handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:
            raise
        response = handler(request, exc)
        return await response if inspect.isawaitable(response) else response
