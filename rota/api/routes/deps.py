from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rota.service import Service


async def get_service(request: Request) -> Service:
    """Async on purpose: FastAPI would run a sync dependency in a thread, per request."""
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(get_service)]
