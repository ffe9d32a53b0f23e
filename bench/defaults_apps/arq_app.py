"""arq: ``arq bench.defaults_apps.arq_app.WorkerSettings`` (max_jobs 10, polls every 0.5 s).

``LOG_CONFIG`` (``--custom-log-dict``) holds arq's two INFO lines per job back.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from bench.defaults_apps import redis_url, stamp

#: a job stays in this sorted set until it has finished
QUEUE = "arq:queue"
POLL_DELAY = 0.5  # arq's default
LOG_CONFIG = {"version": 1, "disable_existing_loggers": False, "loggers": {"arq": {"level": 30}}}


async def probe(ctx: dict[str, Any]) -> None:
    stamp()


class WorkerSettings:
    functions = (probe,)
    redis_settings = RedisSettings.from_dsn(redis_url("arq"))
