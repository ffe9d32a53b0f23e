"""The worker: a registry of handlers and a runtime that claims, runs and reports."""

from rota.worker.builtins import builtin_registry
from rota.worker.registry import Canceled, Registry, RetryLater, TaskContext, load_registry
from rota.worker.runtime import Worker, WorkerOptions
from rota.worker.sources import HttpSource, ServiceSource, Source

__all__ = [
    "Canceled",
    "HttpSource",
    "Registry",
    "RetryLater",
    "ServiceSource",
    "Source",
    "TaskContext",
    "Worker",
    "WorkerOptions",
    "builtin_registry",
    "load_registry",
]
