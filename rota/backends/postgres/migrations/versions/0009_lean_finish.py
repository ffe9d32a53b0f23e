"""A success by the lease's own worker stores no actor: the history reads it from the row.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0009_lean_finish.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0009_lean_finish_down.sql")
