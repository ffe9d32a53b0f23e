from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rota.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(get_service)]
