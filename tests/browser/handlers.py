"""Handlers of the dashboard's browser tests: ``gate`` fails while its file is missing, so
a test can send a task to the dead letter and then let its retry succeed."""

from __future__ import annotations

import os
import time
from typing import Any

from rota.worker import Registry

registry = Registry()


@registry.task("ok")
def ok(**payload: Any) -> dict[str, Any]:
    return {"echo": payload}


@registry.task("gate")
def gate(path: str, **_: Any) -> dict[str, Any]:
    if not os.path.exists(path):
        raise RuntimeError(f"the gate {path} is closed")
    return {"passed": path}


@registry.task("nap")
def nap(seconds: float = 1.0, **_: Any) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}
