"""``GET /metrics``: Prometheus's text format, for a viewer token or above (docs/metrics.md).

Outside ``/api/v1`` and outside the OpenAPI document (its answer is not JSON), where
scrapers look for it; classified in ``rota.api.access.ROUTES`` like every other route, so a
scrape without a token is a 401 wherever tokens exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from rota.api.routes.deps import Scoped
from rota.core.errors import Forbidden
from rota.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["meta"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, scope: Scoped) -> Response:
    if scope.tenant is not None:  # the figures cover every tenant's queues
        raise Forbidden("metrics cover every tenant; scrape with a token bound to no tenant")
    app_metrics: Metrics = request.app.state.metrics
    return Response(await app_metrics.scrape(), media_type=CONTENT_TYPE)
