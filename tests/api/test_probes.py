"""Regressions for the probes of issue 14: each test replays one thing a hostile or careless
caller did and checks the server now refuses it cleanly, with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import API, Api
from tests.api.test_bad_input import JSON_HEADERS, assert_error, assert_nothing_stored


async def test_a_stale_report_does_not_reveal_the_live_lease_token(api: Api) -> None:
    task = await api.submit()
    (first,) = await api.claim()
    retried = await api.post(
        f"/tasks/{task['id']}/fail", {"lease_token": first["lease_token"], "error": "flaky"}
    )
    assert retried.json()["state"] in ("queued", "scheduled")  # backoff 0 in these settings
    (live,) = await api.claim(worker="w2")
    token = first["lease_token"]
    stale = {"lease_token": token, "result": "forged"}
    bodies = {
        "complete": stale,
        "fail": {"lease_token": token, "error": "forged"},
        "heartbeat": {"lease_token": token},
        "progress": {"lease_token": token, "progress": 1},
    }
    for path, body in bodies.items():
        response = await api.post(f"/tasks/{task['id']}/{path}", body)
        assert response.status_code == 409, (path, response.text)
        assert str(live["lease_token"]) not in response.text, path

    report = await api.post("/workers/w1/report", {"completions": [{"id": task["id"], **stale}]})
    assert report.status_code == 200
    assert str(live["lease_token"]) not in report.text
    assert (await api.get(task["id"]))["state"] == "running"  # the forged result was refused
    done = await api.post(
        f"/tasks/{task['id']}/complete", {"lease_token": live["lease_token"], "result": "real"}
    )
    assert done.status_code == 200 and done.json()["result"] == "real"


async def test_lease_tokens_are_not_the_claim_count(api: Api) -> None:
    """On every store a token's low 32 bits are random per claim: not guessable by counting."""
    for _ in range(8):
        await api.submit()
    salts = {t["lease_token"] & 0xFFFFFFFF for _ in range(8) for t in await api.claim()}
    assert len(salts) >= 7  # eight claims; two equal salts have odds of about 2^-27


def raw(body: str) -> dict[str, Any]:
    """Request kwargs for a body sent as written: ``\\ud800`` escapes reach the server."""
    return {"content": body.encode(), "headers": JSON_HEADERS}


@pytest.mark.parametrize(
    ("retry", "words"),
    [
        ('{"delay": "abc"}', ["retry.delay", "number"]),
        ('{"delay": [1]}', ["retry.delay", "number"]),
        ('{"delays": 5}', ["retry.delays", "list"]),
        ('{"max_delay": {}}', ["retry.max_delay", "number"]),
        ('{"delay": true}', ["retry.delay", "number"]),
        ('{"jitter": "yes"}', ["retry.jitter"]),
        ('{"retry_on": ["\\ud800"]}', ["retry.retry_on"]),
        ('{"retry_on": "OSError"}', ["retry.retry_on"]),
        ('["fixed"]', ["retry"]),
    ],
)
async def test_a_malformed_retry_policy_is_422(api: Api, retry: str, words: list[str]) -> None:
    response = await api.http.post(f"{API}/tasks", **raw(f'{{"kind": "k", "retry": {retry}}}'))
    assert_error(response, 422, *words)
    await assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/workers/w1/report", '{"completions": [{"id": "\\ud800", "lease_token": 1}]}'),
        ("/workers/w1/report", '{"failures": [{"id": "\\ud800", "lease_token": 1, "error": "e"}]}'),
        ("/dead-letter/retry", '{"queue": "\\ud800"}'),
        ("/dead-letter/discard", '{"kind": "\\ud800"}'),
        ("/dead-letter/discard", '{"job_id": "\\ud800"}'),
        ("/tasks", '{"kind": "k", "id": "\\ud800"}'),
        ("/tasks", '{"kind": "k", "tenant": "\\udfff"}'),
    ],
)
async def test_a_lone_surrogate_is_refused_not_a_500(api: Api, path: str, body: str) -> None:
    response = await api.http.post(f"{API}{path}", **raw(body))
    assert response.status_code in (200, 422), response.text
    answer = response.json()
    if response.status_code == 200:  # a report answers per item
        (item,) = answer["results"]
        assert (item["status"], item["error"]) == (422, "ValidationError")
    assert "task id" in response.text or "invalid" in response.text
    await assert_nothing_stored(api)


async def test_a_lone_surrogate_in_an_error_message(api: Api) -> None:
    """Over HTTP it is refused (JSON text must be UTF-8); in-process it is kept, replaced."""
    task = await api.submit(max_attempts=1)
    (claimed,) = await api.claim()
    body = f'{{"lease_token": {claimed["lease_token"]}, "error": "bad \\ud800 byte"}}'
    response = await api.http.post(f"{API}/tasks/{task['id']}/fail", **raw(body))
    assert_error(response, 422, "error")
    assert (await api.get(task["id"]))["state"] == "running"
    failed = await api.service.fail(task["id"], claimed["lease_token"], "bad \ud800 byte")
    assert failed.error == "bad ? byte"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", '"HIGH"'),
        ("priority", '" 80 "'),
        ("priority", '"80"'),
        ("priority", "true"),
        ("priority", "48.0"),
        ("max_attempts", "2.0"),
        ("max_attempts", "true"),
        ("max_attempts", '"2"'),
        ("timeout", '"inf"'),
        ("timeout", "Infinity"),
        ("delay", '"5"'),
        ("expires_in", "NaN"),
    ],
)
async def test_strict_types_as_documented(api: Api, field: str, value: str) -> None:
    response = await api.http.post(f"{API}/tasks", **raw(f'{{"kind": "k", "{field}": {value}}}'))
    assert_error(response, 422, field)
    await assert_nothing_stored(api)


async def test_strict_types_on_worker_bodies(api: Api) -> None:
    assert_error(await api.post("/workers/w1/claim", {"max": "5"}), 422, "max")
    assert_error(await api.post("/workers/w1/claim", {"wait": "1"}), 422, "wait")
    assert_error(await api.post("/tasks/t/complete", {"lease_token": "1"}), 422, "lease_token")
    failing = {"lease_token": 1, "error": "e", "retryable": "false"}
    assert_error(await api.post("/tasks/t/fail", failing), 422, "retryable")


async def test_names_and_numbers_that_are_valid_still_pass(api: Api) -> None:
    task = await api.submit(priority="high", max_attempts=2, timeout=5, delay=0, expires_in=60)
    assert (task["priority"], task["max_attempts"], task["timeout"]) == (80, 2, 5.0)


async def test_unknown_query_parameters_are_refused(api: Api) -> None:
    await api.submit()
    response = await api.http.get(f"{API}/tasks", params={"job": "some-id"})
    assert_error(response, 422, "'job'", "job_id")
    assert_error(await api.http.get(f"{API}/stats", params={"x": "1"}), 422, "'x'", "none")
    listed = await api.http.get(f"{API}/tasks", params={"job_id": "some-id"})
    assert listed.status_code == 200 and listed.json()["tasks"] == []


async def test_an_error_quotes_only_a_prefix_of_what_it_refuses(api: Api) -> None:
    huge = "x" * 200_000
    response = await api.post("/tasks", {"kind": "k", "queue": huge + "!"})
    body = assert_error(response, 422, "queue", "200001 characters")
    assert len(response.content) < 1_000, len(response.content)
    assert huge not in body["message"]


async def test_a_deep_or_huge_body_is_refused_and_the_server_keeps_serving(api: Api) -> None:
    deep = '{"kind": "k", "payload": {"a": ' + "[" * 10_000 + "]" * 10_000 + "}}"
    assert_error(await api.http.post(f"{API}/tasks", **raw(deep)), 400, "not JSON")
    huge = '{"tasks": [' + ",".join(['{"kind": "k"}'] * 1_000_000) + "]}"
    response = await api.http.post(f"{API}/tasks/batch", **raw(huge))
    assert_error(response, 413, "200000 JSON objects and arrays")
    listed = '{"tasks": [' + ",".join(['{"kind": "k"}'] * 1_001) + "]}"
    assert_error(await api.http.post(f"{API}/tasks/batch", **raw(listed)), 422, "at most 1000")
    await assert_nothing_stored(api)
    assert (await api.submit())["state"] == "queued"  # and the server still serves


async def test_an_empty_job_tenant_is_refused_not_dropped(api: Api) -> None:
    body = {"name": "j", "tasks": [{"kind": "k"}], "tenant": ""}
    assert_error(await api.post("/jobs", body), 422, "tenant")
    await assert_nothing_stored(api)
