"""Fixtures of the PostgreSQL-only tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rota.backends.postgres import PostgresBackend


@pytest.fixture
async def backend(pg_url: str) -> AsyncIterator[PostgresBackend]:
    """An open backend on a schema of this test's own."""
    backend = PostgresBackend(pg_url)
    await backend.open()
    yield backend
    await backend.close()
