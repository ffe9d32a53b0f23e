"""``pgq``, PgQueuer's own CLI, with the one call that stops ``pgq run`` here mended.

With typer 0.29, ``pgq run`` exits before it starts, at its default log level as at any:
its ``--log-level`` parser hands ``setup_fancy_logger`` the level's name, a str, and that
reads ``level.name`` (AttributeError). ``python -m bench.defaults_apps.pgq run APP`` runs
the same CLI (``pgqueuer.__main__.main``, what the ``pgq`` script runs) with that call
given the enum; everything else, defaults included, is pgq's own. Once PgQueuer converts
the name itself, the mend does nothing.
"""

from __future__ import annotations

import sys

from pgqueuer.core import logconfig

_setup = logconfig.setup_fancy_logger


def _setup_by_name(level: logconfig.LogLevel | str) -> None:
    _setup(logconfig.LogLevel(level) if isinstance(level, str) else level)


logconfig.setup_fancy_logger = _setup_by_name  # type: ignore[assignment]

if __name__ == "__main__":
    from pgqueuer.__main__ import main

    sys.exit(main())
