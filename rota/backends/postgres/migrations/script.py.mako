"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "${up_revision}.sql")


def downgrade() -> None:
    run_sql_file(__file__, "${up_revision}_down.sql")
