"""The scheduler: validation, defaults, policy and maintenance over one backend."""

from rota.service.service import Completion, Failure, Outcome, Service
from rota.service.validation import TaskSpec

__all__ = ["Completion", "Failure", "Outcome", "Service", "TaskSpec"]
