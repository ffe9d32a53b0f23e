"""Client: the blocking face of :class:`AsyncClient`, derived from it, never hand-copied.

Each method runs the async method of the same name, so there is one implementation of every
call. A caller with no event loop of its own runs it right there, on the Client's private
loop (``run_until_complete``): no thread hop. One thread at a time can: a caller finding that
loop busy in another thread, or calling from inside a running loop (where a second loop
cannot run), hands the call to a background loop thread instead, started on first need, with
an AsyncClient of its own. So threads sharing a Client still have their requests in flight
at once, and a long call (``wait_for``, a waiting ``claim``) blocks no other thread.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        if asyncio._get_running_loop() is None and self._inline.acquire(blocking=False):
            try:
                return self._run_inline(method(self._async, *args, **kwargs))
            finally:
                self._inline.release()
        shared, loop = self._background()
        return asyncio.run_coroutine_threadsafe(method(shared, *args, **kwargs), loop).result()

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class Client:
    """``Client(url)`` with the same methods as :class:`AsyncClient`, blocking; it may be
    shared by threads."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self._options = options
        self._async = AsyncClient(url, **options)
        self.url = self._async.url
        # a given httpx transport is not shared between two loops: all calls go to the thread
        self._loop = None if "transport" in options else asyncio.new_event_loop()
        self._inline = threading.Lock()  # held by the thread running self._loop
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._shared: AsyncClient | None = None
        self._closed = False
        if self._loop is None:
            self._background()

    def _run_inline(self, coro: Coroutine[Any, Any, R]) -> R:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError("the Client is closed")
        task = loop.create_task(coro)
        try:
            return loop.run_until_complete(task)
        except BaseException:
            if not task.done():  # interrupted (KeyboardInterrupt): cancel what was under way
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            raise

    def _background(self) -> tuple[AsyncClient, asyncio.AbstractEventLoop]:
        """The background loop thread and its AsyncClient, started on first need."""
        shared, loop = self._shared, self._thread_loop
        if shared is not None and loop is not None:
            return shared, loop
        with self._starting:
            if self._closed:
                raise RuntimeError("the Client is closed")
            if self._shared is None or self._thread_loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, daemon=True)
                thread.start()
                if self._loop is None:  # a given transport: this is the only AsyncClient
                    self._shared = self._async
                else:
                    self._shared = AsyncClient(",".join(self._async.urls), **self._options)
                self._thread, self._thread_loop = thread, loop
            return self._shared, self._thread_loop

    def close(self) -> None:
        with self._inline:
            if self._closed:
                return
            self._closed = True
            loop = self._loop
            if loop is not None:
                if asyncio._get_running_loop() is None:
                    loop.run_until_complete(self._async.aclose())
                else:  # a loop runs in this thread: close the private one from another
                    closer = threading.Thread(
                        target=loop.run_until_complete, args=(self._async.aclose(),)
                    )
                    closer.start()
                    closer.join()
                loop.close()
        with self._starting:
            shared, thread_loop, thread = self._shared, self._thread_loop, self._thread
            self._shared = self._thread_loop = self._thread = None
        if shared is not None and thread_loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(shared.aclose(), thread_loop).result()
            thread_loop.call_soon_threadsafe(thread_loop.stop)
            thread.join()
            thread_loop.close()

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
