"""Client: the blocking face of :class:`AsyncClient`, derived from it, never hand-copied.

Each method runs the async method of the same name on a private event loop thread, so
there is one implementation of every call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from rota.client._async import AsyncClient

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Client, P], R]:
    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._run(method(self._async, *args, **kwargs))

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class Client:
    """``Client(url)`` with the same methods as :class:`AsyncClient`, blocking."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._async = self._run(self._make(url, options))
        self.url = self._async.url

    @staticmethod
    async def _make(url: str | None, options: dict[str, Any]) -> AsyncClient:
        return AsyncClient(url, **options)

    def _run(self, coro: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._async.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    submit = _blocking(AsyncClient.submit)
    submit_many = _blocking(AsyncClient.submit_many)
    submit_job = _blocking(AsyncClient.submit_job)
    get_job = _blocking(AsyncClient.get_job)
    get = _blocking(AsyncClient.get)
    position = _blocking(AsyncClient.position)
    list = _blocking(AsyncClient.list)
    events = _blocking(AsyncClient.events)
    cancel = _blocking(AsyncClient.cancel)
    set_priority = _blocking(AsyncClient.set_priority)
    retry = _blocking(AsyncClient.retry)
    wait_for = _blocking(AsyncClient.wait_for)
    queues = _blocking(AsyncClient.queues)
    stats = _blocking(AsyncClient.stats)
    health = _blocking(AsyncClient.health)
    register_worker = _blocking(AsyncClient.register_worker)
    workers = _blocking(AsyncClient.workers)
    claim = _blocking(AsyncClient.claim)
    heartbeat = _blocking(AsyncClient.heartbeat)
    complete = _blocking(AsyncClient.complete)
    fail = _blocking(AsyncClient.fail)
    report = _blocking(AsyncClient.report)
    progress = _blocking(AsyncClient.progress)
    retry_failed = _blocking(AsyncClient.retry_failed)
    discard_failed = _blocking(AsyncClient.discard_failed)
    cancel_where = _blocking(AsyncClient.cancel_where)
    set_priority_where = _blocking(AsyncClient.set_priority_where)
    block_intake = _blocking(AsyncClient.block_intake)
    resume_intake = _blocking(AsyncClient.resume_intake)
    intake_blocks = _blocking(AsyncClient.intake_blocks)
    audit = _blocking(AsyncClient.audit)
    pause_dispatch = _blocking(AsyncClient.pause_dispatch)
    resume_dispatch = _blocking(AsyncClient.resume_dispatch)
    paused_queues = _blocking(AsyncClient.paused_queues)
    move = _blocking(AsyncClient.move)
    create_schedule = _blocking(AsyncClient.create_schedule)
    schedules = _blocking(AsyncClient.schedules)
    schedule = _blocking(AsyncClient.schedule)
    update_schedule = _blocking(AsyncClient.update_schedule)
    delete_schedule = _blocking(AsyncClient.delete_schedule)
    queue = _blocking(AsyncClient.queue)
    update_queue = _blocking(AsyncClient.update_queue)
    disable_tenant = _blocking(AsyncClient.disable_tenant)
    enable_tenant = _blocking(AsyncClient.enable_tenant)
    disabled_tenants = _blocking(AsyncClient.disabled_tenants)
