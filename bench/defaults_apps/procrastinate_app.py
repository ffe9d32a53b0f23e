"""Procrastinate: ``procrastinate --app bench.defaults_apps.procrastinate_app.app worker``."""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

from bench.defaults_apps import PROCRASTINATE_DSN, stamp

app = App(connector=PsycopgConnector(conninfo=os.environ.get(PROCRASTINATE_DSN, "")))


@app.task(name="probe")
async def probe() -> None:
    stamp()
