"""An insert with a claim behind it announces its task only when the claim left it queued.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0023_insert_claim_wakes.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0023_insert_claim_wakes_down.sql")
