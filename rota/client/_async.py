"""AsyncClient: the native HTTP API as Python methods. The sync Client is derived from it."""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from rota.client._decode import Times, error_from_json, event_from_json, task_from_json
from rota.client._http import ConnectFailed, Pool, RequestFailed
from rota.core.errors import ClientError
from rota.core.models import Event, Task
from rota.core.priority import PriorityInput
from rota.core.states import FINAL_STATES

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
log = logging.getLogger("rota.client")
_JSON_BODY = {"Content-Type": "application/json"}
_PATH_SAFE = "/!$&'()*+,;=:@-._~"  # so a ?, # or % in an id is sent quoted, as part of it


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[Task]
    next_cursor: int | None


def task_body(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    queue: str | None = None,
    priority: PriorityInput | None = None,
    id: str | None = None,
    run_at: datetime | None = None,
    delay: float | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    tenant: str | None = None,
    retry: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    expires_in: float | None = None,
    fairness_key: str | None = None,
    unique_key: str | None = None,
    unique: str | None = None,
    on_conflict: str | None = None,
    unique_for: float | None = None,
    unique_while_running: bool | None = None,
    requires: list[str] | None = None,
    rank: float | None = None,
) -> dict[str, Any]:
    """One task as the API expects it; only the fields you set are sent."""
    body: dict[str, Any] = {"kind": kind, "payload": payload or {}}
    options = {
        "queue": queue,
        "priority": priority,
        "id": id,
        "run_at": None if run_at is None else run_at.isoformat(),
        "delay": delay,
        "max_attempts": max_attempts,
        "timeout": timeout,
        "tenant": tenant,
        "retry": retry,
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "expires_in": expires_in,
        "fairness_key": fairness_key,
        "unique_key": unique_key,
        "unique": unique,
        "on_conflict": on_conflict,
        "unique_for": unique_for,
        "unique_while_running": unique_while_running,
        "requires": requires,
        "rank": rank,
    }
    body.update({k: v for k, v in options.items() if v is not None})
    return body


class AsyncClient:
    """``AsyncClient(url)``; ``url`` defaults to ``ROTA_URL``, the token to ``ROTA_TOKEN``.

    ``url`` may list several replicas, comma-separated: the client moves to the next one
    when a connection is refused.

    Over ``http://`` without a proxy, requests go through rota's own lean HTTP/1.1
    keep-alive connections (``_http.py``); with ``https://``, a proxy in the environment or
    a ``transport``, through httpx.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        given = url or os.environ.get("ROTA_URL") or DEFAULT_URL
        self.urls = [u.strip().rstrip("/") for u in given.split(",") if u.strip()]
        self.url = self.urls[0]
        self.timeout = timeout
        token = token or os.environ.get("ROTA_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._lean: Pool | None = None
        self._http: httpx.AsyncClient | None = None
        if transport is None and _lean_enough(self.urls) and _header_safe(token):
            self._lean = Pool(urlsplit(self.url), headers)
        else:
            import httpx

            self._http = httpx.AsyncClient(
                base_url=f"{self.url}/api/v1", headers=headers, timeout=timeout, transport=transport
            )

    def _next_server(self, why: Exception) -> None:
        failed, self.url = self.url, self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
        if self._lean is not None:
            self._lean.point_at(urlsplit(self.url))
        elif self._http is not None:
            import httpx

            self._http.base_url = httpx.URL(f"{self.url}/api/v1")
        log.warning("rota server %s unreachable (%s); trying %s", failed, why, self.url)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send to the current server; when it refuses the connection, try the next one.

        Only a refused connection moves on (the request never left), so no request is ever
        sent twice.
        """
        # orjson: several times faster than the stdlib encoder httpx would use
        body = None if json is None else orjson.dumps(json)
        seconds = self.timeout if timeout is None else timeout
        for attempt in range(len(self.urls)):
            try:
                if self._lean is not None:
                    target = self._lean.prefix + quote(f"/api/v1{path}", safe=_PATH_SAFE)
                    if params:
                        target = f"{target}?{urlencode(params)}"
                    status, content = await self._lean.request(method, target, body, seconds)
                else:
                    status, content = await self._via_httpx(method, path, body, params, seconds)
                break
            except ConnectFailed as exc:  # the request never left
                if attempt == len(self.urls) - 1:
                    raise ClientError(f"{method} {self.url}{path}: {exc}") from exc.__cause__
                self._next_server(exc)
            except RequestFailed as exc:
                raise ClientError(f"{method} {self.url}{path}: {exc}") from exc.__cause__
        if status == 204:
            return None
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = {"message": content.decode("utf-8", "replace")}
        if status >= 400:
            raise error_from_json(status, data)
        return data

    async def _via_httpx(
        self,
        method: str,
        path: str,
        body: bytes | None,
        params: dict[str, Any] | None,
        timeout: float,
    ) -> tuple[int, bytes]:
        import httpx

        assert self._http is not None
        headers = None if body is None else _JSON_BODY
        try:
            response = await self._http.request(
                method, path, content=body, headers=headers, params=params, timeout=timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectFailed(repr(exc)) from exc
        except httpx.HTTPError as exc:
            raise RequestFailed(repr(exc)) from exc
        return response.status_code, response.content

    # -- producers -----------------------------------------------------------------------

    async def submit(
        self, /, kind: str, payload: dict[str, Any] | None = None, **options: Any
    ) -> Task:
        """Submit one task; ``options`` are those of :func:`task_body`."""
        data = await self._request("POST", "/tasks", json=task_body(kind, payload, **options))
        return task_from_json(data)

    async def submit_many(self, tasks: list[dict[str, Any]]) -> list[Task]:
        """Submit a batch (each item as built by :func:`task_body`), all or nothing."""
        data = await self._request("POST", "/tasks/batch", json={"tasks": tasks})
        return [task_from_json(t) for t in data["tasks"]]

    async def submit_job(
        self, name: str, tasks: list[dict[str, Any]], *, tenant: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "tasks": tasks}
        if tenant is not None:
            body["tenant"] = tenant
        result: dict[str, Any] = await self._request("POST", "/jobs", json=body)
        return result

    async def get_job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/jobs/{job_id}")
        return result

    async def get(self, task_id: str) -> Task:
        return task_from_json(await self._request("GET", f"/tasks/{task_id}"))

    async def position(self, task_id: str) -> dict[str, int] | None:
        data = await self._request("GET", f"/tasks/{task_id}")
        position: dict[str, int] | None = data.get("position")
        return position

    async def list(
        self,
        *,
        queue: str | None = None,
        state: str | None = None,
        kind: str | None = None,
        tenant: str | None = None,
        job_id: str | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> TaskPage:
        params = {
            "queue": queue,
            "state": state,
            "kind": kind,
            "tenant": tenant,
            "job_id": job_id,
            "cursor": cursor,
            "limit": limit,
        }
        data = await self._request(
            "GET", "/tasks", params={k: v for k, v in params.items() if v is not None}
        )
        return TaskPage([task_from_json(t) for t in data["tasks"]], data["next_cursor"])

    async def events(self, task_id: str) -> builtins.list[Event]:
        data = await self._request("GET", f"/tasks/{task_id}/events")
        return [event_from_json(task_id, e) for e in data["events"]]

    async def cancel(self, task_id: str) -> Task:
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/cancel"))

    async def set_priority(
        self, task_id: str, priority: PriorityInput, *, to_tail: bool = False
    ) -> Task:
        body = {"priority": priority, "to_tail": to_tail}
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/priority", json=body))

    async def retry(self, task_id: str) -> Task:
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/retry"))

    async def wait_for(self, task_id: str, *, timeout: float = 60.0, poll: float = 0.1) -> Task:
        """Poll until the task is final; raise TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            task = await self.get(task_id)
            if task.state in FINAL_STATES:
                return task
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} is still {task.state.value}")
            await asyncio.sleep(poll)

    async def queues(self) -> builtins.list[dict[str, Any]]:
        data = await self._request("GET", "/queues")
        result: builtins.list[dict[str, Any]] = data["queues"]
        return result

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/stats")
        return result

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/health")
        return result

    # -- workers -------------------------------------------------------------------------

    async def register_worker(
        self,
        worker_id: str,
        *,
        name: str,
        host: str,
        queues: builtins.list[str] | None,
        capabilities: builtins.list[str] | None = None,
        concurrency: int,
        version: str,
    ) -> dict[str, Any]:
        """Announce a starting worker; it is listed until it falls silent."""
        body = {
            "name": name,
            "host": host,
            "queues": queues,
            "capabilities": capabilities or [],
            "concurrency": concurrency,
            "version": version,
        }
        result: dict[str, Any] = await self._request("PUT", f"/workers/{worker_id}", json=body)
        return result

    async def workers(self) -> builtins.list[dict[str, Any]]:
        """Live workers with their running tasks and last contact."""
        data = await self._request("GET", "/workers")
        workers: builtins.list[dict[str, Any]] = data["workers"]
        return workers

    async def claim(
        self,
        worker_id: str,
        *,
        queues: builtins.list[str] | None = None,
        max: int = 1,
        wait: float = 0.0,
        completions: builtins.list[dict[str, Any]] | None = None,
        failures: builtins.list[dict[str, Any]] | None = None,
        capabilities: builtins.list[str] | None = None,
    ) -> builtins.list[Task]:
        """Lease up to ``max`` tasks (only those whose ``requires`` are among
        ``capabilities``). Results to report may ride along (items as for :meth:`report`);
        their per-item answers are not returned: use :meth:`report` when you need them."""
        body: dict[str, Any] = {"queues": queues, "max": max, "wait": wait}
        if capabilities:
            body["capabilities"] = capabilities
        if completions:
            body["completions"] = completions
        if failures:
            body["failures"] = failures
        data = await self._request(
            "POST", f"/workers/{worker_id}/claim", json=body, timeout=wait + 30.0
        )
        if data is None:
            return []
        times = Times()
        return [task_from_json(t, times) for t in data["tasks"]]

    async def heartbeat(self, task_id: str, lease_token: int) -> dict[str, Any]:
        body = {"lease_token": lease_token}
        result: dict[str, Any] = await self._request(
            "POST", f"/tasks/{task_id}/heartbeat", json=body
        )
        return result

    async def canceled_leases(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> builtins.list[tuple[str, int]]:
        """Those of ``leases`` (task id, lease token) whose cancel was requested."""
        body = {"leases": [{"id": i, "lease_token": t} for i, t in leases]}
        answer = await self._request("POST", f"/workers/{worker_id}/canceled", json=body)
        return [(item["id"], item["lease_token"]) for item in answer["cancel_requested"]]

    async def progress(self, task_id: str, lease_token: int, progress: Any) -> dict[str, Any]:
        """Report progress (also extends the lease); says whether a cancel was requested."""
        body = {"lease_token": lease_token, "progress": progress}
        result: dict[str, Any] = await self._request(
            "POST", f"/tasks/{task_id}/progress", json=body
        )
        return result

    async def retry_failed(self, /, **filters: Any) -> builtins.list[str]:
        """Requeue dead-letter tasks; ``filters``: queue, kind, tenant, job_id, limit."""
        data = await self._request("POST", "/dead-letter/retry", json=filters)
        ids: builtins.list[str] = data["retried"]
        return ids

    async def discard_failed(self, /, **filters: Any) -> int:
        """Delete dead-letter tasks; ``filters``: queue, kind, tenant, job_id, limit."""
        data = await self._request("POST", "/dead-letter/discard", json=filters)
        return int(data["discarded"])

    # -- operators ------------------------------------------------------------------------

    async def cancel_where(self, /, **filters: Any) -> builtins.list[str]:
        """Cancel waiting tasks; ``filters``: queue, kind, tenant, job_id, limit."""
        data = await self._request("POST", "/admin/tasks/cancel", json=filters)
        ids: builtins.list[str] = data["canceled"]
        return ids

    async def set_priority_where(
        self, priority: int | str, /, *, to_tail: bool = False, **filters: Any
    ) -> builtins.list[str]:
        """A new priority for waiting tasks; ``filters`` as :meth:`cancel_where`."""
        body = {"priority": priority, "to_tail": to_tail, **filters}
        data = await self._request("POST", "/admin/tasks/priority", json=body)
        ids: builtins.list[str] = data["changed"]
        return ids

    async def block_intake(
        self, reason: str, *, queue: str | None = None, tenant: str | None = None
    ) -> dict[str, Any]:
        """Refuse submits (all, one queue or one tenant) until :meth:`resume_intake`."""
        body = {"reason": reason, "queue": queue, "tenant": tenant}
        block: dict[str, Any] = await self._request("POST", "/admin/intake/block", json=body)
        return block

    async def resume_intake(self, *, queue: str | None = None, tenant: str | None = None) -> bool:
        body = {"queue": queue, "tenant": tenant}
        data = await self._request("POST", "/admin/intake/resume", json=body)
        return bool(data["resumed"])

    async def intake_blocks(self) -> builtins.list[dict[str, Any]]:
        data = await self._request("GET", "/admin/intake")
        blocks: builtins.list[dict[str, Any]] = data["blocks"]
        return blocks

    async def pause_dispatch(self, queue: str, reason: str) -> dict[str, Any]:
        """Hand out none of ``queue``'s tasks until :meth:`resume_dispatch`."""
        body = {"queue": queue, "reason": reason}
        pause: dict[str, Any] = await self._request("POST", "/admin/dispatch/pause", json=body)
        return pause

    async def resume_dispatch(self, queue: str) -> bool:
        data = await self._request("POST", "/admin/dispatch/resume", json={"queue": queue})
        return bool(data["resumed"])

    async def paused_queues(self) -> builtins.list[dict[str, Any]]:
        data = await self._request("GET", "/admin/dispatch")
        paused: builtins.list[dict[str, Any]] = data["paused"]
        return paused

    async def move(
        self, task_id: str, *, run_at: datetime | str | None = None, delay: float | None = None
    ) -> Task:
        """A waiting task's new run time (``run_at``, or ``delay`` seconds from now)."""
        when = run_at.isoformat() if isinstance(run_at, datetime) else run_at
        body = {k: v for k, v in (("run_at", when), ("delay", delay)) if v is not None}
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/move", json=body))

    async def create_schedule(
        self, name: str, task: dict[str, Any], /, **rule_and_policies: Any
    ) -> dict[str, Any]:
        """A schedule making ``task`` (kind, payload, queue, priority, tenant, ...) at the times
        of one of ``cron=``, ``rrule=``, ``interval=`` (seconds) or ``at=``; with
        ``timezone=``, ``catch_up=``, ``overlap=``, ``deadline=``, ``enabled=``."""
        body = {"name": name, "task": task, **rule_and_policies}
        made: dict[str, Any] = await self._request("POST", "/schedules", json=body)
        return made

    async def schedules(self) -> builtins.list[dict[str, Any]]:
        data = await self._request("GET", "/schedules")
        found: builtins.list[dict[str, Any]] = data["schedules"]
        return found

    async def schedule(self, schedule_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._request("GET", f"/schedules/{schedule_id}")
        return found

    async def update_schedule(self, schedule_id: str, /, **changes: Any) -> dict[str, Any]:
        """Change what is given: ``paused=True`` pauses it (resuming catches up),
        ``enabled=False`` disables it (enabling counts from now), a new rule counts from now."""
        changed: dict[str, Any] = await self._request(
            "PATCH", f"/schedules/{schedule_id}", json=changes
        )
        return changed

    async def queue(self, name: str) -> dict[str, Any]:
        """A queue's settings, whether it is paused, and its waiting tasks."""
        found: dict[str, Any] = await self._request("GET", f"/queues/{name}")
        return found

    async def update_queue(self, name: str, /, **changes: Any) -> dict[str, Any]:
        """Change a queue's settings (``max_size``, ``fairness``, ``weights``, ``aging``,
        ``paused``, defaults, ...); ``None`` resets one to its default."""
        changed: dict[str, Any] = await self._request("PATCH", f"/queues/{name}", json=changes)
        return changed

    async def delete_schedule(self, schedule_id: str) -> None:
        await self._request("DELETE", f"/schedules/{schedule_id}")

    async def disable_tenant(
        self, tenant: str, reason: str, *, cancel_waiting: bool = False
    ) -> dict[str, Any]:
        """Stop ``tenant``'s scheduling: its submits are refused and its waiting tasks stay
        unclaimed (or are canceled, with ``cancel_waiting``) until :meth:`enable_tenant`."""
        body = {"tenant": tenant, "reason": reason, "cancel_waiting": cancel_waiting}
        made: dict[str, Any] = await self._request("POST", "/admin/tenants/disable", json=body)
        return made

    async def enable_tenant(self, tenant: str) -> bool:
        data = await self._request("POST", "/admin/tenants/enable", json={"tenant": tenant})
        return bool(data["enabled"])

    async def disabled_tenants(self) -> builtins.list[dict[str, Any]]:
        data = await self._request("GET", "/admin/tenants")
        disabled: builtins.list[dict[str, Any]] = data["disabled"]
        return disabled

    async def audit(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Operator actions, newest first (page with ``before`` = the last entry's seq)."""
        params = {"action": action, "actor": actor, "limit": limit, "before": before}
        query = {key: value for key, value in params.items() if value is not None}
        data = await self._request("GET", "/audit", params=query)
        entries: builtins.list[dict[str, Any]] = data["entries"]
        return entries

    async def complete(self, task_id: str, lease_token: int, result: Any = None) -> Task:
        body = {"lease_token": lease_token, "result": result}
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/complete", json=body))

    async def fail(
        self,
        task_id: str,
        lease_token: int,
        error: str,
        *,
        retryable: bool = True,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> Task:
        body = {
            "lease_token": lease_token,
            "error": error,
            "retryable": retryable,
            "error_kind": kind,
            "retry_after": retry_after,
        }
        return task_from_json(await self._request("POST", f"/tasks/{task_id}/fail", json=body))

    async def report(
        self,
        worker_id: str,
        completions: builtins.list[dict[str, Any]] | None = None,
        failures: builtins.list[dict[str, Any]] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Items: ``{"id", "lease_token", "result"}`` / ``{"id", "lease_token", "error"}``."""
        body = {"completions": completions or [], "failures": failures or []}
        data = await self._request("POST", f"/workers/{worker_id}/report", json=body)
        results: builtins.list[dict[str, Any]] = data["results"]
        return results


def _lean_enough(urls: builtins.list[str]) -> bool:
    """Whether every server is plain http and reached without a proxy."""
    proxies = urllib.request.getproxies_environment()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
            return False
        proxied = proxies.get("http") or proxies.get("all")
        if proxied and not urllib.request.proxy_bypass(parts.hostname):  # as httpx: NO_PROXY
            return False
    return True


def _header_safe(token: str | None) -> bool:
    return token is None or not any(c in token for c in "\r\n\0")
