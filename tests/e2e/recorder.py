"""Handlers for end-to-end tests: they record each execution in a file, one line per run."""

from __future__ import annotations

import os
import time
from typing import Any

from rota.worker import Registry, TaskContext

registry = Registry()


@registry.task("record", pass_context=True)
def record(ctx: TaskContext, **payload: Any) -> dict[str, Any]:
    path = os.environ["ROTA_TEST_RECORD"]
    with open(path, "a") as out:
        out.write(f"{ctx.task.id} {ctx.task.attempt}\n")
        out.flush()
    if payload.get("sleep"):
        time.sleep(float(payload["sleep"]))
    return {"recorded": ctx.task.id}
