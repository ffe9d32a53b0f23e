"""Long-running parts shared by ``rota serve``, ``rota worker`` and ``rota up``."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from rota.backends import backend_from_url
from rota.client import AsyncClient
from rota.config import Settings
from rota.core.errors import RotaError, SchemaMismatch, StoreError
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
    collection. No collection first: it cost a starting worker 17-50 ms in the middle of
    its first claims, to free the little garbage that startup leaves."""
    gc.freeze()


#: seconds a thread may hold the GIL while another waits for it (Python's default: 5 ms)
SWITCH_INTERVAL = 0.0005


def quicken_thread_switches() -> None:
    """Let a waiting thread take the GIL after 0.5 ms instead of 5 ms, in `rota serve`.

    The server's event loop parses and answers requests while a SQLite store's statements
    run on a thread of their own; when a statement returns while the loop is busy, that
    thread waited up to 5 ms for the GIL, and every claim and report behind it waited too.
    Two HTTP workers draining 30,000 tasks from `rota serve` on SQLite, alternating runs:
    6,700-7,400 tasks/s at 5 ms against 8,100-9,300 at 0.5 ms (3 pairs), and medians of
    8,100 against 8,700 (6 pairs). A process-wide setting, so only the commands that own
    their process set it."""
    sys.setswitchinterval(SWITCH_INTERVAL)


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
    store first, always, so a store that is down or needs an upgrade is one line on stderr
    (a RotaError saying what to do) before any banner."""
    tokens = Tokens.from_settings(settings)
    stored = await _stored_tokens(settings)
    if tokens.configured or stored:
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


async def _stored_tokens(settings: Settings) -> bool:
    """Open the store (it checks its schema), and say whether it holds tokens."""
    backend = backend_from_url(settings.database_url)
    pool = logging.getLogger("psycopg.pool")
    quiet, pool.disabled = pool.disabled, True  # a retry line per second until the timeout
    try:
        await backend.open()
    except SchemaMismatch:
        raise  # its message says what to do
    except StoreError as exc:
        raise StoreError(
            f"cannot open the store ({exc}): check that it is running and that "
            "--database-url (ROTA_DATABASE_URL) points at it"
        ) from exc
    finally:
        pool.disabled = quiet
    try:
        return bool(await backend.token_list())
    finally:
        await backend.close()


def make_registry(apps: Sequence[str], *, allow_shell: bool) -> Registry:
    registry = builtin_registry(allow_shell=allow_shell)
    for spec in apps:
        registry.merge(load_registry(spec))
    return registry


def stop_on_signals(stop: asyncio.Event, said: Callable[[str], None] | None = None) -> None:
    """SIGTERM and SIGINT ask for a graceful stop instead of killing the loop; ``said``
    hears the signal's name (for the worker's stop line)."""
    loop = asyncio.get_running_loop()

    def asked(sig: signal.Signals) -> None:
        if said is not None:
            said(sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, asked, sig)


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
    heard: list[str] = []  # signals come from the start on, before the worker exists
    stop_on_signals(stop, heard.append)
    service: Service | None = None
    source: Source
    gc.disable()  # as rota.cli.main: the store's driver loads and connects (~50 ms less)
    try:
        if in_process:
            service = Service(backend_from_url(settings.database_url), settings)
            await service.open()
            source = ServiceSource(service)
        else:
            source = HttpSource(AsyncClient(settings.url, token=settings.token))
    finally:
        gc.enable()
    freeze_startup_heap()
    worker = Worker(source, registry, worker_id=worker_id, options=options)
    worker.stop_reasons = heard
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
