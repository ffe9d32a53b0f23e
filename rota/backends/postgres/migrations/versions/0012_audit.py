"""The audit log of operator actions.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0012_audit.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0012_audit_down.sql")
