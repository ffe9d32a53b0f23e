"""The HTTP API: a FastAPI app factory over a :class:`~rota.service.Service`."""

from rota.api.app import create_app
from rota.api.routes import API_PREFIX

__all__ = ["API_PREFIX", "create_app"]
