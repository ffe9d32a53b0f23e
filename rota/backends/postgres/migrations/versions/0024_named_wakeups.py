"""Wake-ups name the queues of the tasks an insert made ready.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0024_named_wakeups.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0024_named_wakeups_down.sql")
