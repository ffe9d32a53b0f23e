"""The one loader of named queries (SQL files), shared by the SQL backends.

A file is a list of blocks, each starting with ``-- name: NAME``. An upper-case NAME is a
fragment: later blocks that mention it get its text (in their SQL, never in a comment),
and it stays available too, for SQL built in Python. Every block also gets the
``substitutions`` (column lists) and the state sets of :mod:`rota.core.states`
(``WAITING_STATES`` becomes ``('queued', 'scheduled')``), so a rule about which states
are "waiting" is written once, in core, and the SQL receives it.
"""

from __future__ import annotations

from importlib import resources

from rota.core.states import FINAL_STATES, RETRYABLE_STATES, WAITING_STATES, sql_list

STATE_SETS = {
    "WAITING_STATES": sql_list(WAITING_STATES),
    "RETRYABLE_STATES": sql_list(RETRYABLE_STATES),
    "FINAL_STATES": sql_list(FINAL_STATES),
}


def _code_lines(body: str) -> list[str]:
    return [line for line in body.splitlines() if not line.lstrip().startswith("--")]


def load(package: str, filename: str, substitutions: dict[str, str]) -> dict[str, str]:
    text = resources.files(package).joinpath(filename).read_text()
    replace = {**substitutions, **STATE_SETS}
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
        # longest first, so TASK_COLUMNS_T is not taken for TASK_COLUMNS
        for key in sorted(replace, key=len, reverse=True):
            body = body.replace(key, replace[key])
        body = body.strip().rstrip(";")
        if name.isupper():
            body = "\n".join(_code_lines(body))
            fragments[name] = body
        queries[name] = body
    return queries
