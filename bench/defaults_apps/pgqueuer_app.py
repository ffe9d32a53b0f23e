"""PgQueuer: ``pgq run bench.defaults_apps.pgqueuer_app:main``, the factory form its docs
give (an async context manager yielding the ``PgQueuer``; its connection closed after)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
from pgqueuer import AsyncpgDriver, Job, PgQueuer

from bench.defaults_apps import PGQUEUER_DSN, stamp


@asynccontextmanager
async def main() -> AsyncIterator[PgQueuer]:
    connection = await asyncpg.connect(os.environ[PGQUEUER_DSN])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("probe")
    async def probe(job: Job) -> None:
        stamp()

    try:
        yield pgq
    finally:
        await connection.close()
