"""The ``rota`` command line."""

from __future__ import annotations

import gc


def main() -> None:
    """The ``rota`` command. Its modules load with the cyclic collector off: loading them
    allocates much and frees little, and the collections it set off were a tenth of a
    worker's start (rota.cli.runners.freeze_startup_heap parks what startup built)."""
    gc.disable()
    try:
        from rota.cli.main import main as run
    finally:
        gc.enable()
    run()
