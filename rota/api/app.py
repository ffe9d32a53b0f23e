"""The FastAPI app factory: the native API under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import Depends, FastAPI

from rota.api import errors
from rota.api.limits import BodyLimit
from rota.api.routes import jobs, meta, tasks, workers
from rota.api.routes.deps import known_query
from rota.core import limits
from rota.service import Service

API_PREFIX = "/api/v1"


def create_app(
    service: Service, *, maintenance: bool = True, on_ready: Callable[[], None] | None = None
) -> FastAPI:
    """Serve ``service``; with ``maintenance`` this process also sweeps expired leases.
    ``on_ready`` runs once the service is open, before the first request."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.open()
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
        dependencies=[Depends(known_query)],
    )
    app.state.service = service
    errors.install(app)
    for module in (tasks, workers, jobs, meta):
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_middleware(BodyLimit, max_bytes=limits.MAX_BODY_BYTES)
    return app
