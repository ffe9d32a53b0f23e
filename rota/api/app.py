"""The FastAPI app factory: the native API under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI

from rota.api import docs_ui, errors, ui
from rota.api.access import document
from rota.api.compat import cd, dms, kat
from rota.api.fastlane import FastLane
from rota.api.limits import BodyLimit
from rota.api.links import add_links
from rota.api.routes import admin, jobs, meta, metrics, queues, schedules, tasks, workers
from rota.api.routes.deps import gate
from rota.api.schemas import COMPONENTS
from rota.core import limits
from rota.core.errors import ValidationError
from rota.metrics import Metrics
from rota.service import Service
from rota.service.tokens import Tokens

#: the compatibility routers ``ROTA_COMPAT`` may name
COMPAT = {"dms": dms, "cd": cd, "kat": kat}
#: compatibility routers that serve the same paths (POST /tasks, GET /tasks/{id})
CLASHES = ({"dms", "kat"},)


def create_app(
    service: Service,
    *,
    maintenance: bool = True,
    on_ready: Callable[[], None] | None = None,
    tokens: Tokens | None = None,
) -> FastAPI:
    """Serve ``service``; with ``maintenance`` this process also sweeps expired leases.
    ``on_ready`` runs once the service is open, before the first request. ``tokens``
    default to the service's settings and its store's (``rota.service.tokens``)."""

    mounted = [n.strip() for n in service.settings.compat.split(",") if n.strip()]
    for name in mounted:
        if name not in COMPAT:
            raise ValidationError(f"ROTA_COMPAT: {name!r} is unknown; use {', '.join(COMPAT)}")
    for clash in CLASHES:
        if clash <= set(mounted):
            raise ValidationError(
                f"ROTA_COMPAT: {' and '.join(sorted(clash))} serve the same paths; mount one"
            )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.open()
        for name in mounted:
            startup = getattr(COMPAT[name], "startup", None)
            if startup is not None:
                await startup(service)  # e.g. the KAT queues' default settings
        if on_ready is not None:
            on_ready()
        stop = asyncio.Event()
        loop_task = asyncio.create_task(service.run_maintenance(stop)) if maintenance else None
        try:
            yield
        finally:
            stop.set()
            if loop_task is not None:
                await loop_task
            await service.close()

    app = FastAPI(
        title="rota",
        summary="A priority-aware distributed task scheduler",
        version="0.1.0",
        lifespan=lifespan,
        redoc_url=None,
        docs_url=None,  # docs_ui serves it, offline
        # who may call (401/403) before what was asked is looked at
        dependencies=[Depends(gate)],
    )
    app.state.service = service
    app.state.metrics = Metrics(service)  # GET /metrics; counts the service's transitions
    app.state.tokens = tokens or Tokens.from_settings(
        service.settings, service.backend, service.clock.now
    )
    errors.install(app)
    docs_ui.install(app)
    ui.install(app)  # the dashboard at /ui
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
            app.openapi_schema = add_links(document(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for module in (tasks, workers, jobs, meta, queues, admin, schedules):
        app.include_router(module.router)  # each carries API_PREFIX
    app.include_router(admin.audit_router)
    app.include_router(metrics.router)  # /metrics, where scrapers look
    for name in mounted:
        app.include_router(COMPAT[name].router)
    app.add_middleware(FastLane)  # inside BodyLimit: bodies arrive read, within the limits
    app.add_middleware(
        BodyLimit,
        max_bytes=limits.MAX_BODY_BYTES,
        max_containers=limits.MAX_BODY_CONTAINERS,
    )
    return app
