"""rota: a priority-aware distributed task scheduler.

The public names load on first use (PEP 562): ``import rota`` stays cheap, so a worker or
a CLI command pays only for the parts it touches (a worker never loads the HTTP server).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_ERRORS = [
    "ClientError",
    "Conflict",
    "DuplicateTask",
    "IllegalTransition",
    "NotFound",
    "PayloadTooLarge",
    "RotaError",
    "SchemaMismatch",
    "ServerError",
    "StaleLease",
    "StoreError",
    "ValidationError",
]
#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(["AsyncClient", "Client"], "rota.client"),
    "Settings": "rota.config",
    **{name: "rota.core.errors" for name in _ERRORS},
    **dict.fromkeys(["Event", "Job", "Task"], "rota.core.models"),
    **dict.fromkeys(["NAMED_PRIORITIES", "PRIORITY_MAX", "PRIORITY_MIN"], "rota.core.priority"),
    "TaskState": "rota.core.states",
    **dict.fromkeys(["Service", "TaskSpec"], "rota.service"),
    **dict.fromkeys(["Registry", "RetryLater", "TaskContext"], "rota.worker"),
}

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
assert set(__all__) == {*_WHERE, "__version__"}, "every public name has a home"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rota' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
