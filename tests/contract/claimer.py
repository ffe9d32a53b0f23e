"""The body of one claiming OS process in the multi-process contract test.

Kept free of pytest so that a spawned child imports little. Each child opens its own
backend on the shared store, waits at the barrier so that all start together, then claims
in batches (and completes what it claimed) until nothing is left, and writes the ids it
got, in order, one per line, each with whether its completion applied ("1") or not ("0").
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from threading import Barrier

from rota.backends import backend_from_url
from rota.core.models import ClaimRequest, make_finish
from rota.core.states import TaskState
from tests.contract.helpers import LEASE, T0


async def _claim_all(url: str, worker: str, batch: int, start: Barrier) -> list[str]:
    backend = backend_from_url(url)
    await backend.open()
    try:
        start.wait(timeout=60)
        got: list[str] = []
        request = ClaimRequest(worker, batch, T0, T0 + LEASE)
        while tasks := await backend.task_claim_many(request):
            applied = await backend.task_finish_many(
                [
                    make_finish(t.id, t.lease_token, TaskState.SUCCEEDED, now=T0, result=worker)
                    for t in tasks
                ],
                now=T0,
            )
            got.extend(f"{t.id} {int(ok)}" for t, ok in zip(tasks, applied, strict=True))
        return got
    finally:
        await backend.close()


def run_claimer(url: str, worker: str, batch: int, out: str, start: Barrier) -> None:
    lines = asyncio.run(_claim_all(url, worker, batch, start))
    Path(out).write_text("".join(f"{line}\n" for line in lines))
