"""Schema migrations with Alembic; each revision runs a SQL file that sits beside it.

``rota db upgrade`` applies them. Servers and workers never migrate by themselves: they
compare the database's revision with this code's head and refuse to start on a mismatch.
"""

from __future__ import annotations

from pathlib import Path

from rota.backends.postgres.url import PgUrl

MIGRATIONS = Path(__file__).with_name("migrations")

#: The newest revision, which servers and workers require. Written here rather than asked of
#: Alembic at start-up: loading Alembic (and SQLAlchemy with it) cost every rota process
#: 0.5 s, 21 MB and 38,000 objects for the garbage collector to walk. A test keeps it equal
#: to Alembic's head.
HEAD = "0024"


def _config(url: PgUrl):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.sqlalchemy.replace("%", "%%"))
    config.set_main_option("rota.schema", url.schema)
    return config


def upgrade(url: PgUrl, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(url), revision)


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}


def run_sql_file(revision_file: str, name: str) -> None:
    """Run the SQL file ``name`` beside a revision module, as one batch of statements."""
    from alembic import op

    sql = Path(revision_file).with_name(name).read_text()
    op.get_bind().exec_driver_sql(sql)
