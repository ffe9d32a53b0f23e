"""Where a worker gets tasks from: the HTTP API, or the service in this process.

Both speak the same four verbs, so the runtime is one piece of code for both modes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from rota.client import AsyncClient
from rota.core.models import Task, WorkerInfo
from rota.service import Completion, Failure, Service


class Source(Protocol):
    #: Whether results should ride on claims: it saves an HTTP request per batch, but a
    #: claim that carries them ends only when they are stored too.
    carries_reports: bool
    #: where the tasks come from, for the log (a URL, or the store's)
    where: str

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        """Lease up to ``limit`` tasks that ``capabilities`` cover, reporting
        ``completions`` and ``failures`` on the way (one request instead of two)."""
        ...

    async def heartbeat(self, task_id: str, lease_token: int, progress: Any = None) -> bool:
        """Extend the lease (recording ``progress``); True when a cancel was requested.
        Raises Conflict when the lease is lost."""
        ...

    async def canceled(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """Those of ``leases`` (task id, lease token) whose cancel was requested; a read."""
        ...

    async def report(
        self, worker_id: str, completions: Sequence[Completion], failures: Sequence[Failure]
    ) -> None: ...

    async def register(self, worker: WorkerInfo) -> None:
        """Announce the worker (its times are the server's to set)."""
        ...

    async def close(self) -> None: ...


class HttpSource:
    carries_reports = True

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.where = ",".join(client.urls)

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        return await self.client.claim(
            worker_id,
            queues=list(queues or []) or None,
            max=limit,
            wait=wait,
            completions=_completions(completions),
            failures=_failures(failures),
            capabilities=list(capabilities),
        )

    async def heartbeat(self, task_id: str, lease_token: int, progress: Any = None) -> bool:
        if progress is None:
            answer = await self.client.heartbeat(task_id, lease_token)
        else:
            answer = await self.client.progress(task_id, lease_token, progress)
        return bool(answer["cancel_requested"])

    async def canceled(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        return await self.client.canceled_leases(worker_id, leases)

    async def report(
        self, worker_id: str, completions: Sequence[Completion], failures: Sequence[Failure]
    ) -> None:
        await self.client.report(worker_id, _completions(completions), _failures(failures))

    async def register(self, worker: WorkerInfo) -> None:
        await self.client.register_worker(
            worker.id,
            name=worker.name,
            host=worker.host,
            queues=None if worker.queues is None else list(worker.queues),
            capabilities=list(worker.capabilities),
            concurrency=worker.concurrency,
            version=worker.version,
        )

    async def close(self) -> None:
        await self.client.aclose()


class ServiceSource:
    """In-process mode for Python apps that share the database: no HTTP in between."""

    carries_reports = False  # no request to save; the report loop stores them meanwhile

    def __init__(self, service: Service) -> None:
        self.service = service
        self.where = "in process"

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        claiming = self.service.claim(
            worker_id, queues=queues, limit=limit, wait=wait, capabilities=capabilities
        )
        if not completions and not failures:
            return await claiming
        reporting = self.service.report(completions, failures, worker_id=worker_id)
        _, tasks = await asyncio.gather(reporting, claiming)
        return tasks

    async def heartbeat(self, task_id: str, lease_token: int, progress: Any = None) -> bool:
        return (await self.service.heartbeat(task_id, lease_token, progress)).cancel_requested

    async def canceled(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        return await self.service.canceled_leases(worker_id, leases)

    async def report(
        self, worker_id: str, completions: Sequence[Completion], failures: Sequence[Failure]
    ) -> None:
        await self.service.report(completions, failures, worker_id=worker_id)

    async def register(self, worker: WorkerInfo) -> None:
        await self.service.register_worker(
            worker.id,
            name=worker.name,
            host=worker.host,
            queues=worker.queues,
            capabilities=worker.capabilities,
            concurrency=worker.concurrency,
            version=worker.version,
        )

    async def close(self) -> None:
        return None


def _completions(completions: Sequence[Completion]) -> list[dict[str, Any]]:
    return [
        {"id": c.task_id, "lease_token": c.lease_token, "result": c.result} for c in completions
    ]


def _failures(failures: Sequence[Failure]) -> list[dict[str, Any]]:
    return [
        {
            "id": f.task_id,
            "lease_token": f.lease_token,
            "error": f.error,
            "retryable": f.retryable,
            "error_kind": f.kind,
            "retry_after": f.retry_after,
        }
        for f in failures
    ]
