"""The named queries of queries.sql, loaded once.

Each block of queries.sql starts with ``-- name: NAME``. An upper-case NAME is a fragment:
later blocks that mention it get its text (in their SQL, never in a comment), and it stays
available here too, for SQL built in Python (listing.py). ``TASK_COLUMNS`` becomes the
column list in the order of rota.core.models.Task (``TASK_COLUMNS_T``: the same, of ``t``).
"""

from __future__ import annotations

from importlib import resources

from rota.core.models import Task

COLUMNS = ", ".join(Task._fields)
_COLUMNS_T = ", ".join(f"t.{name}" for name in Task._fields)


def _load() -> dict[str, str]:
    text = resources.files(__package__).joinpath("queries.sql").read_text()
    queries: dict[str, str] = {}
    fragments: dict[str, str] = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        name = name.strip()
        for fragment, sql in fragments.items():
            body = "\n".join(
                line if line.lstrip().startswith("--") else line.replace(fragment, sql)
                for line in body.splitlines()
            )
        body = body.replace("TASK_COLUMNS_T", _COLUMNS_T).replace("TASK_COLUMNS", COLUMNS)
        body = body.strip().rstrip(";")
        if name.isupper():
            body = "\n".join(
                line for line in body.splitlines() if not line.lstrip().startswith("--")
            )
            fragments[name] = body
        queries[name] = body
    return queries


Q = _load()
