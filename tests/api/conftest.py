"""Fixtures of the HTTP API suite.

``api`` talks to a fresh app over ``httpx.ASGITransport`` (no sockets); since that transport
does not run the lifespan, the fixture opens and closes the service itself. ``live_server``
runs the same app under a real uvicorn on a free loopback port, for the blocking ``Client``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from rota.api import create_app
from rota.backends.sqlite import SQLiteBackend
from rota.client import AsyncClient, Client
from rota.config import Settings
from rota.service import Service
from tests.api.documented import Documented

BASE_URL = "http://t"
API = "/api/v1"


def make_settings(**overrides: Any) -> Settings:
    """Explicit settings, so no ROTA_* variable of the environment leaks into a test.

    ``poll_interval`` is long on purpose: a long-polling claim must be woken by the
    in-process notifier, not by a periodic re-check.
    """
    values: dict[str, Any] = {
        "database_url": "sqlite:///unused.db",
        "lease_seconds": 30.0,
        "sweep_interval": 1.0,
        "poll_interval": 10.0,
        "default_max_attempts": 3,
        "retry_backoff": 0.0,
        "retry_backoff_max": 300.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """One app under test: the raw HTTP client, the app and the service behind it."""

    http: httpx.AsyncClient
    app: FastAPI
    service: Service

    async def submit(self, **fields: Any) -> dict[str, Any]:
        """POST /tasks; asserts 201 and returns the task JSON."""
        body: dict[str, Any] = {"kind": "work", **fields}
        response = await self.http.post(f"{API}/tasks", json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def claim(self, worker: str = "w1", **body: Any) -> list[dict[str, Any]]:
        """POST /workers/{worker}/claim; the claimed tasks ([] on 204)."""
        response = await self.http.post(f"{API}/workers/{worker}/claim", json=body)
        if response.status_code == 204:
            assert response.content == b""
            return []
        assert response.status_code == 200, response.text
        tasks: list[dict[str, Any]] = response.json()["tasks"]
        return tasks

    async def get(self, task_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{API}/tasks/{task_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.http.post(f"{API}{path}", json=body)


@pytest.fixture
def settings() -> Settings:
    """Override in a module (or parametrize indirectly) for other policies."""
    return make_settings()


@pytest.fixture
async def service(tmp_path: Path, settings: Settings) -> AsyncIterator[Service]:
    opened = Service(SQLiteBackend(tmp_path / "t.db"), settings)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def api(service: Service) -> AsyncIterator[Api]:
    """Every answer is checked against the app's OpenAPI document (tests/api/documented.py)."""
    app = create_app(service, maintenance=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE_URL,
        timeout=30.0,
        event_hooks={"response": [Documented(app)]},
    ) as http:
        yield Api(http, app, service)


@pytest.fixture
async def client(api: Api) -> AsyncIterator[AsyncClient]:
    """rota's own AsyncClient against the same app as ``api``."""
    async with AsyncClient(BASE_URL, transport=httpx.ASGITransport(app=api.app)) as opened:
        yield opened


@dataclass(frozen=True)
class LiveServer:
    url: str
    service: Service


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real uvicorn on 127.0.0.1:<free port>, in a background thread, lifespan on."""
    service = Service(SQLiteBackend(tmp_path_factory.mktemp("live") / "t.db"), make_settings())
    app = create_app(service, maintenance=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", service)
    finally:
        server.should_exit = True
        thread.join(10.0)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def sync_client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url, timeout=30.0) as opened:
        yield opened
