"""The native API's routers, one module per resource, all under ``API_PREFIX``."""

API_PREFIX = "/api/v1"
