"""Cheaper writes: seqs handed out in blocks, and a claim no longer writes the seq index.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0004_cheaper_writes.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0004_cheaper_writes_down.sql")
