"""Duplicate and out-of-order reports, sent the way a confused or retrying worker would:
every answer is deterministic (an idempotent 200 or a 409), the same in every round, and the
event log holds only legal transitions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import STORES, Rig, Row, check_history, sized

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROUNDS = sized(20, 2)

#: (step, expected answer): an HTTP status, or a report's item statuses.
EXPECTED: list[tuple[str, int | list[int]]] = [
    ("A claim", 200),
    ("A heartbeat", 200),
    ("A complete", 200),
    ("A complete again", 200),
    ("A complete again, another result", 200),
    ("A heartbeat after complete", 409),
    ("A fail after complete", 409),
    ("A complete, wrong token", 409),
    ("A heartbeat, wrong token", 409),
    ("B claim", 200),
    ("B fail (retryable)", 200),
    ("B fail again", 200),
    ("B complete after fail", 409),
    ("B heartbeat after fail", 409),
    ("B fail, another error", 409),
    ("B claim again", 200),
    ("B complete, stale token", 409),
    ("B fail, stale token", 409),
    ("B heartbeat, stale token", 409),
    ("B complete", 200),
    ("B complete again", 200),
    ("C claim", 200),
    ("C fail (not retryable)", 200),
    ("C fail again", 200),
    ("C complete after fail", 409),
    ("C heartbeat after fail", 409),
    ("C fail (retryable) after fail", 409),
    ("D claim", 200),
    ("E claim", 200),
    ("report D complete twice in one report", [200, 200]),
    ("report E complete and fail in one report", [200, 409]),
    ("report E complete again", [200]),
    ("report D complete, wrong token", [409]),
    ("report unknown task", [404]),
    ("F complete while queued", 409),
    ("F complete while queued, token 1", 409),
    ("F heartbeat while queued", 409),
    ("heartbeat unknown task", 404),
    ("complete unknown task", 404),
]


def _round(http: httpx.Client, r: int) -> tuple[list[tuple[str, int | list[int]]], list[str]]:
    """One round on fresh tasks; returns the answers and the round's task ids."""
    worker = f"dup-{r}"
    names = "ABCDEF"
    queues = {n: f"dup-{r}-{n}" for n in names}
    ids = {n: f"dup-{r}-{n}" for n in names}
    for n in names:
        body = {"kind": "work", "id": ids[n], "queue": queues[n], "max_attempts": 3}
        response = http.post("/tasks", json=body)
        assert response.status_code == 201, response.text
    answers: list[tuple[str, int | list[int]]] = []
    tokens: dict[str, int] = {}

    def post(step: str, path: str, body: dict[str, Any]) -> httpx.Response:
        response = http.post(path, json=body)
        answers.append((step, response.status_code))
        return response

    def claim(step: str, n: str) -> None:
        response = post(step, f"/workers/{worker}/claim", {"queues": [queues[n]], "max": 1})
        if response.status_code == 200:
            tokens[n] = response.json()["tasks"][0]["lease_token"]

    def beat(step: str, n: str, token: int) -> None:
        post(step, f"/tasks/{ids[n]}/heartbeat", {"lease_token": token})

    def complete(step: str, n: str, token: int, result: Any = "ok") -> None:
        post(step, f"/tasks/{ids[n]}/complete", {"lease_token": token, "result": result})

    def fail(step: str, n: str, token: int, error: str, retryable: bool = True) -> None:
        body = {"lease_token": token, "error": error, "retryable": retryable}
        post(step, f"/tasks/{ids[n]}/fail", body)

    def report(step: str, completions: list[Any], failures: list[Any] | None = None) -> None:
        body = {"completions": completions, "failures": failures or []}
        response = http.post(f"/workers/{worker}/report", json=body)
        assert response.status_code == 200, response.text
        answers.append((step, [item["status"] for item in response.json()["results"]]))

    claim("A claim", "A")
    a = tokens["A"]
    beat("A heartbeat", "A", a)
    complete("A complete", "A", a, {"first": True})
    complete("A complete again", "A", a, {"first": True})
    complete("A complete again, another result", "A", a, {"first": False})
    beat("A heartbeat after complete", "A", a)
    fail("A fail after complete", "A", a, "late")
    complete("A complete, wrong token", "A", a + 1)
    beat("A heartbeat, wrong token", "A", a + 1)

    claim("B claim", "B")
    b = tokens["B"]
    fail("B fail (retryable)", "B", b, "boom")
    fail("B fail again", "B", b, "boom")
    complete("B complete after fail", "B", b)
    beat("B heartbeat after fail", "B", b)
    fail("B fail, another error", "B", b, "bang")
    claim("B claim again", "B")
    b2 = tokens["B"]
    complete("B complete, stale token", "B", b)
    fail("B fail, stale token", "B", b, "boom")
    beat("B heartbeat, stale token", "B", b)
    complete("B complete", "B", b2)
    complete("B complete again", "B", b2)

    claim("C claim", "C")
    c = tokens["C"]
    fail("C fail (not retryable)", "C", c, "fatal", retryable=False)
    fail("C fail again", "C", c, "fatal", retryable=False)
    complete("C complete after fail", "C", c)
    beat("C heartbeat after fail", "C", c)
    fail("C fail (retryable) after fail", "C", c, "again")

    claim("D claim", "D")
    claim("E claim", "E")
    d, e = tokens["D"], tokens["E"]
    item = {"id": ids["D"], "lease_token": d, "result": 1}
    report("report D complete twice in one report", [item, item])
    report(
        "report E complete and fail in one report",
        [{"id": ids["E"], "lease_token": e, "result": 1}],
        [{"id": ids["E"], "lease_token": e, "error": "x"}],
    )
    report("report E complete again", [{"id": ids["E"], "lease_token": e, "result": 1}])
    report("report D complete, wrong token", [{"id": ids["D"], "lease_token": d + 1}])
    report("report unknown task", [{"id": f"dup-{r}-nope", "lease_token": 1}])

    complete("F complete while queued", "F", 0)
    complete("F complete while queued, token 1", "F", 1)
    beat("F heartbeat while queued", "F", 0)
    post("heartbeat unknown task", f"/tasks/dup-{r}-nope/heartbeat", {"lease_token": 1})
    post("complete unknown task", f"/tasks/dup-{r}-nope/complete", {"lease_token": 1})
    return answers, list(ids.values())


@pytest.mark.parametrize("store", STORES)
def test_duplicate_and_out_of_order_reports(rig: Rig, figures: Callable[[Row], None]) -> None:
    rig.serve()
    rounds: list[list[tuple[str, int | list[int]]]] = []
    ids: list[str] = []
    with rig.http() as http:
        for r in range(ROUNDS):
            answers, round_ids = _round(http, r)
            rounds.append(answers)
            ids += round_ids
        final = {i: http.get(f"/tasks/{i}").json() for i in ids}

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    wrong = [
        f"round {r}: {step}: got {got}, expected {want}"
        for r, answers in enumerate(rounds)
        for (step, got), (_, want) in zip(answers, EXPECTED, strict=True)
        if got != want
    ]
    differing = [r for r, answers in enumerate(rounds) if answers != rounds[0]]
    states: dict[str, list[tuple[str, int, Any]]] = defaultdict(list)
    for i, t in final.items():
        states[i[-1]].append((t["state"], t["attempt"], t["result"]))
    expected_states = {
        "A": ("succeeded", 1, {"first": True}),
        "B": ("succeeded", 2, "ok"),
        "C": ("failed", 1, None),
        "D": ("succeeded", 1, 1),
        "E": ("succeeded", 1, 1),
        "F": ("queued", 0, None),
    }
    wrong_states = [
        f"{n}: {got}"
        for n, got_all in states.items()
        for got in got_all
        if got != expected_states[n]
    ]
    figures(
        Row(
            "duplicate reports",
            rig.store_kind,
            len(ids),
            f"{ROUNDS} rounds x {len(EXPECTED)} reports",
            lost=len(set(ids) - tasks.keys()),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            notes=(
                f"{len(rounds) * len(EXPECTED) - len(wrong)} of {len(rounds) * len(EXPECTED)} "
                f"answers as in the table; {len(differing)} rounds differ from the first; "
                f"{len(wrong_states)} tasks in an unexpected end state"
            ),
        )
    )
    assert wrong == [], "\n".join(wrong)
    assert differing == []
    assert wrong_states == [], wrong_states
    assert history.succeeded_twice == [], history.succeeded_twice
    assert history.illegal == [], history.illegal
