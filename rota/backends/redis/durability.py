"""Whether the server keeps what it acknowledged: said once, as one warning line, at open.

A queue on Redis is only as durable as the server's settings: without the append-only
file (``appendonly yes``) a restart loses what came after the last snapshot; without
``appendfsync always`` a crash loses the last writes; any ``maxmemory-policy`` but
``noeviction`` may evict tasks when memory runs short. Managed services often refuse
``CONFIG``: then nothing is said.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from rota.core.errors import StoreError

log = logging.getLogger("rota.redis")
SETTINGS = ("appendonly", "appendfsync", "save", "maxmemory-policy")
#: Servers already warned about in this process: a process that opens many backends (a
#: test, a benchmark) says it once, not once per open.
_warned: set[str] = set()


def risks(config: dict[str, str]) -> list[str]:
    """What the settings put at risk; unknown settings are given the benefit of the doubt."""
    found = []
    if config.get("appendonly", "yes") != "yes":
        save = config.get("save", "")
        found.append(f"appendonly=no (save={save!r}): a restart loses writes since the snapshot")
    elif config.get("appendfsync", "always") != "always":
        found.append(f"appendfsync={config['appendfsync']}: a crash loses the last writes")
    if config.get("maxmemory-policy", "noeviction") != "noeviction":
        found.append(f"maxmemory-policy={config['maxmemory-policy']}: tasks may be evicted")
    return found


async def warn_unless_durable(client: Redis, where: str) -> None:
    try:
        async with client.pipeline(transaction=False) as pipe:
            for name in SETTINGS:  # one at a time: Redis 6 takes one pattern per CONFIG GET
                pipe.config_get(name)
            replies = await pipe.execute()
    except ResponseError:
        return  # CONFIG is refused (managed Redis): nothing to say
    except (RedisError, OSError) as exc:
        raise StoreError(f"Redis: {exc}") from exc
    config = {str(k): str(v) for reply in replies for k, v in reply.items()}
    found = risks(config)
    if found and where not in _warned:
        _warned.add(where)
        log.warning(
            "Redis at %s can lose acknowledged tasks: %s (set appendonly yes, appendfsync "
            "always, maxmemory-policy noeviction)",
            where,
            "; ".join(found),
        )
