"""Long-running parts shared by ``rota serve``, ``rota worker`` and ``rota up``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import signal
from collections.abc import Iterator, Sequence

import uvicorn

from rota.api import create_app
from rota.backends import backend_from_url
from rota.client import AsyncClient
from rota.config import Settings
from rota.core.errors import RotaError
from rota.service import Service
from rota.service.tokens import Tokens
from rota.worker import (
    HttpSource,
    Registry,
    ServiceSource,
    Source,
    Worker,
    WorkerOptions,
    builtin_registry,
    load_registry,
)


def freeze_startup_heap() -> None:
    """Park what startup built (modules, the app, the store's driver) in the GC's
    permanent generation, once the process is ready to work. A long-running process then
    never re-scans it: under load `rota serve` otherwise paused for ~150 ms on each full
    collection."""
    gc.collect()
    gc.freeze()


class _QuietServer(uvicorn.Server):
    """A server that leaves signals to its owner, who stops workers before it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_server(
    settings: Settings,
    *,
    log_level: str = "warning",
    own_signals: bool = True,
    apps: Sequence[str] = (),
) -> uvicorn.Server:
    service = Service(backend_from_url(settings.database_url), settings)
    for spec in apps:  # the rankers of --app (its handlers run on workers)
        for name, ranker in load_registry(spec).rankers.items():
            service.rankers.add(name, ranker)
    config = uvicorn.Config(
        create_app(service, on_ready=freeze_startup_heap),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config) if own_signals else _QuietServer(config)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


async def check_access(settings: Settings) -> str | None:
    """Fail closed before serving: with no token configured or stored, only a loopback
    address is served (open, with the warning returned), unless ``insecure``. Opens the
    store once, so a store that is down or needs an upgrade is reported before the banner."""
    tokens = Tokens.from_settings(settings)
    if tokens.configured:
        return None
    backend = backend_from_url(settings.database_url)
    await backend.open()
    try:
        stored = bool(await backend.token_list())
    finally:
        await backend.close()
    if stored:
        return None
    if is_loopback(settings.host):
        return (
            "no token configured: anyone on this machine may call every route "
            "(set ROTA_TOKEN, ROTA_TOKENS_FILE or `rota token create` to require one)"
        )
    if settings.insecure:
        return f"--insecure: serving {settings.host} to anyone, with no token"
    raise RotaError(
        f"refusing to serve {settings.host} with no token: set ROTA_TOKEN (or "
        "ROTA_TOKENS_FILE, or run `rota token create --role operator`), or pass --insecure"
    )


def make_registry(apps: Sequence[str], *, allow_shell: bool) -> Registry:
    registry = builtin_registry(allow_shell=allow_shell)
    for spec in apps:
        registry.merge(load_registry(spec))
    return registry


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT ask for a graceful stop instead of killing the loop."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_worker(
    settings: Settings,
    registry: Registry,
    options: WorkerOptions,
    *,
    in_process: bool,
    worker_id: str | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run one worker until SIGTERM/SIGINT (or ``stop``); returns tasks processed."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    service: Service | None = None
    source: Source
    if in_process:
        service = Service(backend_from_url(settings.database_url), settings)
        await service.open()
        source = ServiceSource(service)
    else:
        source = HttpSource(AsyncClient(settings.url, token=settings.token))
    freeze_startup_heap()
    worker = Worker(source, registry, worker_id=worker_id, options=options)
    maintenance = None
    if service is not None:
        maintenance = asyncio.create_task(service.run_maintenance(stop))
    try:
        await worker.run(stop)
    finally:
        await source.close()
        if maintenance is not None:
            stop.set()
            await maintenance
        if service is not None:
            await service.close()
    return worker.processed
