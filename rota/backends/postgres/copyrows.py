"""Task rows in COPY's text format, for the batch insert.

Why text and why by hand: PostgreSQL buffers binary COPY rows and inserts them only every
1,000 rows, so a batch of 1,000 was stored only after the last row arrived, and the client
then waited for all of it. Text rows are flushed every 64 KB, so the server stores the
first rows while later ones are still being validated and encoded. psycopg's generic text
``write_row`` costs about 19 µs a row here; the few column types of a task need much less.
The escapes are the ones the COPY text format defines (backslash, tab, newline, CR).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from rota.core.models import Task
from rota.core.states import TaskState

NULL = "\\N"
_STATE_TEXT = {state: state.value for state in TaskState}
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str | None) -> str:
    if value is None:
        return NULL
    # Names and ids are checked printable text already; escape only what needs it.
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_ESCAPES)


def _json(value: Any) -> str:
    if value is None:
        return NULL
    text = orjson.dumps(value).decode()  # JSON never holds a raw tab, newline or CR
    return text.replace("\\", "\\\\") if "\\" in text else text


class RowWriter:
    """Encodes tasks as lines for ``copy_tasks``; remembers the text of the last time it
    wrote (a batch shares one ``created_at`` object, and usually its ``run_at``)."""

    def __init__(self) -> None:
        self._last: datetime | None = None
        self._last_text = NULL

    def _time(self, value: datetime | None) -> str:
        if value is None:
            return NULL
        if value is not self._last:
            self._last, self._last_text = value, value.isoformat()
        return self._last_text

    def line(self, task: Task, seq: int) -> str:
        # Written for speed (it runs once per row): the common fields are inlined.
        tid, queue, kind = task.id, task.queue, task.kind
        if not (tid.isprintable() and "\\" not in tid):
            tid = tid.translate(_ESCAPES)
        if not (queue.isprintable() and "\\" not in queue):
            queue = queue.translate(_ESCAPES)
        if not (kind.isprintable() and "\\" not in kind):
            kind = kind.translate(_ESCAPES)
        state = _STATE_TEXT[task.state]
        timeout = NULL if task.timeout is None else repr(float(task.timeout))
        tenant = NULL if task.tenant is None else _text(task.tenant)
        job_id = NULL if task.job_id is None else _text(task.job_id)
        retry = NULL if task.retry is None else _json(task.retry)
        expires_at = NULL if task.expires_at is None else self._time(task.expires_at)
        time = self._time
        return (
            f"{tid}\t{seq}\t{queue}\t{kind}\t{_json(task.payload)}\t{task.priority:d}\t"
            f"{state}\t{state}\t{task.max_attempts:d}\t{timeout}\t{tenant}\t{job_id}\t"
            f"{time(task.run_at)}\t{time(task.created_at)}\t{retry}\t{expires_at}\n"
        )
