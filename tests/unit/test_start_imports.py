"""What a worker process loads before its first claim: its start is mostly imports (issue
18, "fast start"), so the modules only other commands use stay unloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: loaded by the server (pydantic: its request models), by a store the worker does not use,
#: or by a schedule's rule
NOT_FOR_A_WORKER = (
    "fastapi", "starlette", "uvicorn", "pydantic", "prometheus_client", "croniter",
    "dateutil.rrule", "alembic", "sqlalchemy", "psycopg", "redis",
)  # fmt: skip


def test_the_worker_command_leaves_what_it_does_not_use_unloaded(tmp_path: Path) -> None:
    """The command line is parsed as `rota worker` parses it (typer 0.29 and later build a
    pydantic adapter per parameter there: pyproject.toml keeps it below), and the worker's
    modules are loaded; only the run itself is left out."""
    url = f"sqlite:///{tmp_path}/rota.db"
    probe = (
        "import sys\n"
        "import rota.cli.main as cli, rota.service, rota.worker.runtime\n"
        "import rota.backends.sqlite\n"
        "async def no_run(*args, **kwargs): pass\n"
        "cli.run_worker = no_run\n"
        f"sys.argv = ['rota', 'worker', '--in-process', '--database-url', {url!r},\n"
        "            '--concurrency', '8', '--queue', 'a', '--claim-wait', '1.5']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        f"print(sorted(m for m in {NOT_FOR_A_WORKER!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip().splitlines()[-1] == "[]"
