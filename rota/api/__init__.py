"""The HTTP API: a FastAPI app factory over a :class:`~rota.service.Service`."""

from rota.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
