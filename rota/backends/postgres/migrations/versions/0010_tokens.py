"""API tokens, stored hashed.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0010_tokens.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0010_tokens_down.sql")
