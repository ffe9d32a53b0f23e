"""The body of one submitting OS process in the dedup stress test: a rota Service on the
shared store, submitting one task under the same unique key as every other process, once
per conflict rule, all processes released together by a barrier for each rule. It writes
one line per rule: the rule and its outcome (made, existing or rejected)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from threading import Barrier

from rota.backends import backend_from_url
from rota.config import Settings
from rota.core.dedup import RULES, DuplicateKey
from rota.service import Service, TaskSpec
from rota.service.validation import UniqueSpec

__all__ = ["RULES", "run_submitter"]


async def _submit_all(url: str, n: int, start: Barrier) -> list[str]:
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()
    lines = []
    try:
        for rule in RULES:
            spec = TaskSpec(
                "scan",
                queue="scans",
                id=f"{rule}-{n}",
                priority=n,
                payload={"from": n},
                unique=UniqueSpec(f"key-{rule}", rule),
            )
            await asyncio.to_thread(start.wait, 120)
            try:
                (done,) = await service.insert_many([spec])
            except DuplicateKey:
                outcome = "rejected"
            else:
                outcome = "existing" if done.existing else "made"
            lines.append(f"{rule} {outcome}")
    finally:
        await service.close()
    return lines


def run_submitter(url: str, n: int, out: str, start: Barrier) -> None:
    lines = asyncio.run(_submit_all(url, n, start))
    Path(out).write_text("".join(f"{line}\n" for line in lines))
