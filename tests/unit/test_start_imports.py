"""What a worker process loads before its first claim: its start is mostly imports (issue
18, "fast start"), so the modules only other commands use stay unloaded."""

from __future__ import annotations

import subprocess
import sys

#: loaded by the server, by a store the worker does not use, or by a schedule's rule
NOT_FOR_A_WORKER = (
    "fastapi", "starlette", "uvicorn", "prometheus_client", "croniter", "dateutil.rrule",
    "alembic", "sqlalchemy", "psycopg", "redis",
)  # fmt: skip


def test_the_worker_command_leaves_what_it_does_not_use_unloaded() -> None:
    probe = (
        "import sys\n"
        "import rota.cli.main, rota.cli.runners, rota.service, rota.worker.runtime\n"
        "import rota.backends.sqlite\n"
        f"print(sorted(m for m in {NOT_FOR_A_WORKER!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "[]"
