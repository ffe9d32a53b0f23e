"""The body of one claiming OS process in the concurrent-claimer stress test.

Kept free of pytest so that a spawned child imports little. A process runs ``claimers``
asyncio tasks, each with its own backend (so its own connection) on the shared store. All
processes start together at a barrier; each claimer then claims in batches of a random size
(1..50), completes what it got, and stops at the first empty claim. For every claimed task it
writes one line: ``task_id priority start end applied claimer``, where ``start`` is
``time.time()`` just before the claim call and ``end`` just after it returned, and
``applied`` (1/0) says whether the completion under that lease was accepted.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier

from rota.backends import Backend, backend_from_url
from rota.core.models import ClaimRequest, make_finish
from rota.core.states import TaskState

LEASE = timedelta(hours=1)  # nothing expires during the test
MAX_BATCH = 50


async def _claim_until_empty(backend: Backend, name: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines: list[str] = []
    while True:
        limit = rng.randint(1, MAX_BATCH)
        now = datetime.now(UTC)
        start = time.time()
        tasks = await backend.task_claim_many(ClaimRequest(name, limit, now, now + LEASE))
        end = time.time()
        if not tasks:
            return lines
        applied = await backend.task_finish_many(
            [
                make_finish(t.id, t.lease_token, TaskState.SUCCEEDED, now=now, result=name)
                for t in tasks
            ],
            now=now,
        )
        lines += [
            f"{t.id} {t.priority} {start!r} {end!r} {int(ok)} {name}"
            for t, ok in zip(tasks, applied, strict=True)
        ]


async def _run(url: str, proc: int, claimers: int, start: Barrier) -> list[str]:
    backends = [backend_from_url(url) for _ in range(claimers)]
    for backend in backends:
        await backend.open()
    try:
        await asyncio.to_thread(start.wait, 120)
        runs = [
            _claim_until_empty(backend, f"p{proc}c{n}", seed=proc * 1000 + n)
            for n, backend in enumerate(backends)
        ]
        done = await asyncio.gather(*runs)
        return [line for lines in done for line in lines]
    finally:
        for backend in backends:
            await backend.close()


def run_claimers(url: str, proc: int, claimers: int, out: str, start: Barrier) -> None:
    lines = asyncio.run(_run(url, proc, claimers, start))
    Path(out).write_text("".join(f"{line}\n" for line in lines))
