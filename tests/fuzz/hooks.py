"""Schemathesis hooks for rota's fuzz runs (tests/e2e/test_fuzz.py, ``make fuzz``).

rota reads JSON integers strictly: ``48.0`` is refused where an integer belongs
(docs/limits.md). JSON Schema's ``integer`` admits ``48.0``, and Schemathesis draws such
spellings for OpenAPI 3.1 integers; no schema keyword says "written without a fraction", so
the generated bodies spell a whole float the way rota documents integers. A whole float in
a ``number`` field means the same value either way, so nothing else changes.
"""

from __future__ import annotations

from typing import Any

import schemathesis


def _integers_spelled_plainly(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integers_spelled_plainly(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers_spelled_plainly(item) for item in value]
    return value


#: The longest long-poll a fuzzed claim may ask for. Claims on empty queues wait their whole
#: ``wait``; up to 30 s each would make a run of a few thousand cases take many minutes.
#: Waiting itself is tested in tests/unit/test_waiting.py and tests/api/test_intake.py.
MAX_FUZZ_WAIT = 0.2


def _without_graph(body: Any) -> Any:
    """A job's ``name`` and ``depends_on`` refer to each other within one body: drawn at
    random they name unknown or repeated tasks, which the service refuses with 422 as the
    issue asks (a schema cannot say "a name of a sibling"). The fuzz sends jobs without a
    graph in its valid cases (its invalid ones go as drawn);
    tests/contract/test_job_graph.py and tests/api/test_jobs_meta.py test graphs."""
    if isinstance(body, dict) and isinstance(body.get("tasks"), list):
        tasks = [
            {k: v for k, v in t.items() if k not in ("name", "depends_on")}
            if isinstance(t, dict) else t
            for t in body["tasks"]
        ]  # fmt: skip
        return {**body, "tasks": tasks}
    return body


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    body = _integers_spelled_plainly(body)
    operation = context.operation
    if operation is not None and operation.path.endswith("/claim") and isinstance(body, dict):
        wait = body.get("wait")
        # only a valid wait is shortened: an invalid one must stay invalid
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait <= 30:
            body = {**body, "wait": min(wait, MAX_FUZZ_WAIT)}
    return body


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    if case.operation.path == "/api/v1/jobs" and getattr(mode, "name", "") == "POSITIVE":
        case.body = _without_graph(case.body)
    return case
