"""Handlers by name: ``@registry.task("resize")`` registers, workers look up ``task.kind``.

A handler receives the payload as keyword arguments (as Celery and Procrastinate tasks
do); with ``pass_context=True`` it also gets a :class:`TaskContext` first. It may be sync
(run in a thread) or async (run on the loop).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rota.core.errors import ValidationError
from rota.core.models import Task

F = TypeVar("F", bound=Callable[..., Any])


class RetryLater(Exception):
    """Raise it from a handler to run the task again in ``delay`` seconds.

    It does not count as a failure: the attempt is given back.
    """

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay}s")
        self.delay = delay


@dataclass
class TaskContext:
    """What a handler may know about its run.

    ``cancel_requested`` is set when an operator cancels the task: a cooperative handler
    stops soon after; the worker stops it by force after its cancel grace period.
    ``report_progress`` sends progress now (it also extends the lease).
    """

    task: Task
    worker_id: str
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    reporter: Callable[[Any], Awaitable[None]] | None = None

    async def report_progress(self, progress: Any) -> None:
        if self.reporter is not None:
            await self.reporter(progress)


class Canceled(Exception):
    """Raise it from a handler that stops because its cancel was requested
    (``TaskContext.cancel_requested``): the task ends ``canceled``, not failed."""


Executor = Literal["asyncio", "thread", "process"]


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    fn: Callable[..., Any]
    pass_context: bool
    is_async: bool
    #: None: the worker's default (asyncio for async handlers, its --executor for sync ones)
    executor: Executor | None = None


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        #: rankers by name (rota.service.rankers), which ``rota serve --app`` loads
        self.rankers: dict[str, Callable[..., int | tuple[int, float] | None]] = {}

    def ranker(self, name: str | None = None) -> Callable[[F], F]:
        """Register a ranker: a function of a ``RankContext`` answering a priority, a
        ``(priority, rank)`` pair, or None."""

        def register(fn: F) -> F:
            key = name or fn.__name__
            if key in self.rankers:
                raise ValidationError(f"a ranker named {key!r} is already registered")
            self.rankers[key] = fn
            return fn

        return register

    def task(
        self,
        name: str | None = None,
        *,
        pass_context: bool = False,
        executor: Executor | None = None,
    ) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.add(name or fn.__name__, fn, pass_context=pass_context, executor=executor)
            return fn

        return register

    def add(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        pass_context: bool = False,
        executor: Executor | None = None,
    ) -> None:
        if name in self._handlers:
            raise ValidationError(f"a handler named {name!r} is already registered")
        if executor == "process" and pass_context:
            raise ValidationError(f"{name!r}: a process handler cannot take the TaskContext")
        is_async = inspect.iscoroutinefunction(fn)
        if executor == "asyncio" and not is_async:
            raise ValidationError(f"{name!r}: only an async function can run on asyncio")
        self._handlers[name] = Handler(name, fn, pass_context, is_async, executor)

    def merge(self, other: Registry) -> None:
        for key, ranker in other.rankers.items():
            self.ranker(key)(ranker)
        for handler in other:
            self.add(
                handler.name,
                handler.fn,
                pass_context=handler.pass_context,
                executor=handler.executor,
            )

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __iter__(self) -> Iterator[Handler]:
        return iter(self._handlers.values())

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)


def load_registry(spec: str) -> Registry:
    """Import ``module:attr`` (``--app``), which must name a :class:`Registry`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValidationError(f"--app {spec!r}: use module:attribute, e.g. myapp.tasks:registry")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(f"--app {spec!r}: cannot import {module_name!r}: {exc}") from exc
    found = getattr(module, attr, None)
    if not isinstance(found, Registry):
        raise ValidationError(f"--app {spec!r}: {attr!r} is not a rota Registry")
    return found
