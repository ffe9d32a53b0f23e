"""SAQ: ``saq bench.defaults_apps.saq_app.settings`` (one process, 10 jobs at a time)."""

from __future__ import annotations

from typing import Any

from saq import Queue

from bench.defaults_apps import redis_url, stamp

#: a job is in this set from its enqueue until it has finished
INCOMPLETE = "saq:default:incomplete"


async def probe(ctx: dict[str, Any]) -> None:
    stamp()


settings = {"queue": Queue.from_url(redis_url("saq")), "functions": [probe]}
