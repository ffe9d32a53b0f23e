"""Huey: ``huey_consumer bench.defaults_apps.huey_app.huey``.

The probe returns ``True``: Huey keeps no trace of a task that returns ``None``, and its
stored result is how the benchmark sees the task finished.
"""

from __future__ import annotations

from huey import RedisHuey

from bench.defaults_apps import redis_url, stamp

huey = RedisHuey("bench-defaults", url=redis_url("huey"))
#: the hash of stored results (Huey drops the name's "-" in its keys)
RESULTS: str = huey.storage.result_key


@huey.task()
def probe() -> bool:
    stamp()
    return True
