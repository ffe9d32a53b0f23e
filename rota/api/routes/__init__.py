"""Routers of the native API, mounted under /api/v1 by :func:`rota.api.create_app`."""
