"""``rota serve`` checks its store before it announces itself: a schema that needs
``rota db upgrade``, an unreachable store or a bad URL is one line on stderr and a non-zero
exit, never a banner and a traceback."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from rota.backends.postgres.migrate import upgrade
from rota.backends.postgres.url import PgUrl
from tests.conftest import drop_pg_schema, require_postgres
from tests.e2e.conftest import ROTA, free_port


def serve(database_url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")} | extra
    return subprocess.run(
        [ROTA, "serve", "--port", str(free_port()), "--database-url", database_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def old_schema() -> Iterator[str]:
    """A PostgreSQL schema one migration behind this rota."""
    base = require_postgres()
    url = f"{base}{'&' if '?' in base else '?'}schema=t_{uuid.uuid4().hex[:12]}"
    upgrade(PgUrl.parse(url), "0018")
    try:
        yield url
    finally:
        drop_pg_schema(url)


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_a_schema_that_needs_an_upgrade_is_one_line(old_schema: str, token: str | None) -> None:
    # with a token configured, too (the store used to be opened only to look for tokens)
    done = serve(old_schema, **({"ROTA_TOKEN": token} if token else {}))
    assert done.returncode != 0
    assert done.stdout == ""  # no banner
    (line,) = done.stderr.splitlines()
    assert "rota db upgrade" in line and "0018" in line


def test_an_unreachable_store_is_one_line() -> None:
    done = serve("redis://127.0.0.1:1/0")
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "cannot open the store" in line and "--database-url" in line


def test_a_bad_url_is_one_line() -> None:
    done = serve("mysql://nowhere/db")
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "unsupported database URL" in line
