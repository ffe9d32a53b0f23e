"""rota: ``rota worker --app bench.defaults_apps.rota_app:registry`` adds ``probe``."""

from __future__ import annotations

from typing import Any

from bench.defaults_apps import stamp
from rota.worker import Registry

registry = Registry()


@registry.task("probe")
async def probe(**_: Any) -> None:
    """Async, as rota's builtin ``noop`` is: it runs on the worker's loop, no thread hop."""
    stamp()
