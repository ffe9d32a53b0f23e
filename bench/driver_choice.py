"""Why psycopg 3: the same claim-and-finish loop through psycopg 3 and asyncpg, one run.

Run: ``python -m bench.driver_choice``. Both drivers execute rota's own claim CTE and a
batched finish against the same freshly filled schema; the figure is tasks/s for batches of
1 and 100. Whichever is faster per round trip decides the backend's driver.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psycopg

from bench.bench_postgres import DEFAULT_URL, fresh_schema
from bench.rota_runs import fill
from rota.backends.postgres.queries import Q
from rota.backends.postgres.url import PgUrl

CLAIM = Q["claim_any"]
FINISH = "UPDATE rota_tasks SET state = 'succeeded', lease_expires_at = NULL WHERE id = ANY(%s)"


def _numbered(sql: str) -> str:
    """psycopg's named placeholders as asyncpg's $n ones."""
    names: list[str] = []
    out = sql
    for name in ("now", "lease", "worker", "limit"):
        if f"%({name})s" in out:
            names.append(name)
            out = out.replace(f"%({name})s", f"${len(names)}")
    return out


async def with_psycopg(conninfo: str, schema: str, batch: int, n: int) -> float:
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute("SET enable_bitmapscan = off")
    params: dict[str, Any] = {"worker": "w", "limit": batch}
    done, start = 0, time.perf_counter()
    while done < n:
        params["now"] = params["lease"] = datetime.now(UTC)
        rows = await (await conn.execute(CLAIM, params)).fetchall()
        await conn.execute(FINISH, [[r[0] for r in rows]])
        done += len(rows)
    await conn.close()
    return done / (time.perf_counter() - start)


async def with_asyncpg(conninfo: str, schema: str, batch: int, n: int) -> float:
    conn = await asyncpg.connect(conninfo)
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute("SET enable_bitmapscan = off")
    claim = await conn.prepare(_numbered(CLAIM))
    finish = await conn.prepare(FINISH.replace("%s", "$1::text[]"))
    done, start = 0, time.perf_counter()
    while done < n:
        now = datetime.now(UTC)
        rows = await claim.fetch(now, now, "w", batch)
        await finish.fetch([r[0] for r in rows])
        done += len(rows)
    await conn.close()
    return done / (time.perf_counter() - start)


def main() -> None:
    for batch, n in ((1, 2_000), (100, 20_000)):
        for name, run in (("psycopg 3", with_psycopg), ("asyncpg", with_asyncpg)):
            with fresh_schema(DEFAULT_URL) as url:
                asyncio.run(fill(url, n))
                parsed = PgUrl.parse(url)
                rate = asyncio.run(run(parsed.conninfo, parsed.schema, batch, n))
            print(f"batch {batch:>3}  {name:<10} {rate:>10,.0f} tasks/s")


if __name__ == "__main__":
    main()
