"""Where the real servers are, for the suites that need them.

PostgreSQL is ``ROTA_TEST_POSTGRES_URL`` (default: the local server). When it does not
answer, its tests are skipped on a developer's machine and fail under ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_url() -> str | None:
    """The test server's URL if it answers, else None."""
    url = os.environ.get("ROTA_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return None
    return url


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        where = os.environ.get("ROTA_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        message = f"PostgreSQL at {where} does not answer (set ROTA_TEST_POSTGRES_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return url


def new_pg_schema() -> str:
    """A fresh, migrated schema on the test server; returns rota's URL for it."""
    from rota.backends.postgres.migrate import upgrade
    from rota.backends.postgres.url import PgUrl

    base = require_postgres()
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}schema=t_{uuid.uuid4().hex[:12]}"
    upgrade(PgUrl.parse(url))
    return url


def drop_pg_schema(url: str) -> None:
    import psycopg

    from rota.backends.postgres.url import PgUrl

    parsed = PgUrl.parse(url)
    with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{parsed.schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    url = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(url)
