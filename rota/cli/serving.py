"""``rota serve``'s HTTP server: uvicorn around the API. Its own module so that a worker
or a client command never imports FastAPI or uvicorn (a worker starts in a fraction of the
time)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import uvicorn

from rota.api import create_app
from rota.backends import backend_from_url
from rota.cli.runners import freeze_startup_heap
from rota.config import Settings
from rota.service import Service
from rota.worker import load_registry


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
    own_logging: bool = False,
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
        # With own_logging, uvicorn's records go through the process's handler and format
        # (rota.logs): one format, JSON included, for every line of `rota serve`.
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
    )
    return uvicorn.Server(config) if own_signals else _QuietServer(config)
