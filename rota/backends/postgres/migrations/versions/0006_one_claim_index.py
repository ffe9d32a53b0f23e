"""One claim index: claims across every queue merge the per-queue heads.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0006_one_claim_index.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0006_one_claim_index_down.sql")
