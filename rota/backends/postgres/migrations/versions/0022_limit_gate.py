"""A limited claim far from its limits in one statement: rota_limit_gate takes its slots
and answers whether there is room, inside the claim.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0022_limit_gate.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0022_limit_gate_down.sql")
