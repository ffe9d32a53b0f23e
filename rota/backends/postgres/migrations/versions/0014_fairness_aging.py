"""Fair places and aging.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0014_fairness_aging.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0014_fairness_aging_down.sql")
