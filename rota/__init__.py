"""rota: a priority-aware distributed task scheduler."""

from __future__ import annotations

from rota.client import AsyncClient, Client
from rota.config import Settings
from rota.core.errors import (
    ClientError,
    Conflict,
    DuplicateTask,
    IllegalTransition,
    NotFound,
    PayloadTooLarge,
    RotaError,
    SchemaMismatch,
    ServerError,
    StaleLease,
    StoreError,
    ValidationError,
)
from rota.core.models import Event, Job, Task
from rota.core.priority import NAMED_PRIORITIES, PRIORITY_MAX, PRIORITY_MIN
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.worker import Registry, RetryLater, TaskContext

__version__ = "0.1.0"

__all__ = [
    "NAMED_PRIORITIES",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "AsyncClient",
    "Client",
    "ClientError",
    "Conflict",
    "DuplicateTask",
    "Event",
    "IllegalTransition",
    "Job",
    "NotFound",
    "PayloadTooLarge",
    "Registry",
    "RetryLater",
    "RotaError",
    "SchemaMismatch",
    "ServerError",
    "Service",
    "Settings",
    "StaleLease",
    "StoreError",
    "Task",
    "TaskContext",
    "TaskSpec",
    "TaskState",
    "ValidationError",
    "__version__",
]
