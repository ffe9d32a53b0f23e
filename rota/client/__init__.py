"""Python clients of the HTTP API: ``Client`` (blocking) and ``AsyncClient``."""

from rota.client._async import AsyncClient, TaskPage, task_body
from rota.client._sync import Client

__all__ = ["AsyncClient", "Client", "TaskPage", "task_body"]
