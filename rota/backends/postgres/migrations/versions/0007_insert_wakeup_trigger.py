"""Every insert of tasks sends the wake-up itself: a batch goes in by one COPY, with no
transaction of its own around it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0007_insert_wakeup_trigger.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0007_insert_wakeup_trigger_down.sql")
