"""Cheaper enqueues: two of the four index entries a new row writes become cheaper or go.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0005_cheaper_enqueue.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0005_cheaper_enqueue_down.sql")
