"""Wake-ups say whether a task was scheduled for later (claims promote only then).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0020_wake_kinds.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0020_wake_kinds_down.sql")
