"""rota: a priority-aware distributed task scheduler."""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "NAMED_PRIORITIES",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "ClientError",
    "Conflict",
    "DuplicateTask",
    "Event",
    "IllegalTransition",
    "Job",
    "NotFound",
    "PayloadTooLarge",
    "RotaError",
    "SchemaMismatch",
    "ServerError",
    "StaleLease",
    "StoreError",
    "Task",
    "TaskState",
    "ValidationError",
    "__version__",
]
