"""Logging for ``rota serve`` and ``rota worker``: plain text for people, JSON for shippers.

The standard :mod:`logging` module, configured once per process. Lines that describe a task
carry its fields in ``extra={"rota": {...}}``: the text format already has them in the
message, the JSON format adds them as keys, so a log shipper can filter on ``task_id``.
The HTTP libraries log each request at INFO; they are held at WARNING (a worker would
otherwise print a line per claim).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT = "%(asctime)s %(name)s %(levelname)s %(message)s"
#: libraries that log every request, connection or plugin at INFO
QUIET = ("httpx", "httpcore", "hpack", "alembic")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's ``rota``
    fields, and ``exc`` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "rota", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def setup_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    """Send every logger's records to stderr in ``fmt``, at ``level`` and above."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
