"""Bad input is a 4xx with a JSON message, never a 5xx, and never stores anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.conftest import API, Api

JSON_HEADERS = {"content-type": "application/json"}


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """``status``, a JSON body with a non-empty message, which names every one of ``words``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


async def assert_nothing_stored(api: Api) -> None:
    assert (await api.http.get(f"{API}/stats")).json()["total"] == 0


async def test_unknown_fields_are_422(api: Api) -> None:
    assert_error(await api.post("/tasks", {"kind": "k", "priorty": 5}), 422, "priorty")
    assert_error(await api.post("/tasks/batch", {"tasks": [], "extra": 1}), 422, "extra")
    assert_error(await api.post("/jobs", {"name": "j", "tasks": [{"kind": "k"}], "x": 1}), 422)
    assert_error(await api.post("/workers/w/claim", {"maximum": 3}), 422, "maximum")
    await api.submit(id="t")
    assert_error(await api.post("/tasks/t/priority", {"priority": 1, "tail": True}), 422, "tail")
    assert_error(await api.post("/tasks/t/complete", {"lease_token": 1, "res": 1}), 422, "res")
    assert (await api.get("t"))["priority"] == 20


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": 5},
        {"kind": None},
        {"kind": ["a"]},
        {"kind": "k", "queue": 3},
        {"kind": "k", "max_attempts": "many"},
        {"kind": "k", "max_attempts": 2.5},
        {"kind": "k", "delay": "soon"},
        {"kind": "k", "run_at": "tomorrow"},
        {"kind": "k", "tenant": {"a": 1}},
        {"kind": "k", "id": 17},
        {"kind": "k", "priority": [80]},
        {"kind": "k", "priority": 50.5},
        {"kind": "k", "priority": True},
        {"kind": "k", "priority": None, "timeout": "long"},
    ],
)
async def test_wrong_types_are_422(api: Api, body: dict[str, Any]) -> None:
    assert_error(await api.post("/tasks", body), 422)
    await assert_nothing_stored(api)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": ""},
        {"kind": "has space"},
        {"kind": "k", "queue": "-starts-with-dash"},
        {"kind": "k", "queue": "q" * 129},
        {"kind": "k", "id": "no/slash"},
        {"kind": "k", "id": "x" * 65},
        {"kind": "k", "tenant": "tab\there"},
        {"kind": "k\n"},
        {"kind": "k", "id": "abc\n"},
        {"kind": "k", "queue": "q\n"},
        {"kind": "k", "max_attempts": 0},
        {"kind": "k", "max_attempts": 101},
        {"kind": "k", "timeout": 0},
        {"kind": "k", "timeout": -1},
        {"kind": "k", "delay": -1},
        {"kind": "k", "delay": 1e12},
        {"kind": "k", "run_at": "2030-01-01T00:00:00"},
        {"kind": "k", "run_at": "2030-01-01T00:00:00Z", "delay": 5},
    ],
)
async def test_invalid_values_are_422(api: Api, body: dict[str, Any]) -> None:
    assert_error(await api.post("/tasks", body), 422)
    await assert_nothing_stored(api)


@pytest.mark.parametrize("priority", [101, -1, 1000, "101", "-1"])
async def test_priority_out_of_range_names_the_range(api: Api, priority: Any) -> None:
    assert_error(await api.post("/tasks", {"kind": "k", "priority": priority}), 422, "0..100")
    await assert_nothing_stored(api)


@pytest.mark.parametrize("priority", ["urgent", "", "5x", "hi gh"])
async def test_unknown_priority_name_names_the_choices(api: Api, priority: str) -> None:
    response = await api.post("/tasks", {"kind": "k", "priority": priority})
    assert_error(response, 422, "0..100", "high", "mid", "low")


@pytest.mark.parametrize("priority", ["--5", "-+5", "\u00b2", "\u2460", "1" * 5000])
async def test_odd_priority_strings_are_422_not_500(api: Api, priority: str) -> None:
    assert_error(await api.post("/tasks", {"kind": "k", "priority": priority}), 422)
    await assert_nothing_stored(api)
    task = await api.submit()
    response = await api.post(f"/tasks/{task['id']}/priority", {"priority": priority})
    assert_error(response, 422)


@pytest.mark.parametrize(
    "run_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T01:00:00+02:00"],
)
async def test_run_at_at_the_edge_of_the_calendar_is_not_500(api: Api, run_at: str) -> None:
    response = await api.post("/tasks", {"kind": "k", "run_at": run_at})
    assert response.status_code < 500, response.text
    assert response.status_code in (201, 422)
    assert response.json()


async def test_far_future_run_at_round_trips(api: Api) -> None:
    task = await api.submit(run_at="9999-12-31T00:00:00Z")
    assert task["state"] == "scheduled"
    assert datetime.fromisoformat((await api.get(task["id"]))["run_at"]).year == 9999


@pytest.mark.parametrize("payload", [[1, 2], "text", 5, True, [{"a": 1}]])
async def test_payload_not_an_object_is_422(api: Api, payload: Any) -> None:
    assert_error(await api.post("/tasks", {"kind": "k", "payload": payload}), 422, "payload")
    await assert_nothing_stored(api)


async def test_payload_null_means_empty(api: Api) -> None:
    response = await api.post("/tasks", {"kind": "k", "payload": None})
    # either refused as not an object, or taken as {}; never a 5xx
    assert response.status_code in (201, 422), response.text
    if response.status_code == 201:
        assert response.json()["payload"] == {}


async def test_payload_too_deep_or_not_representable_is_422(api: Api) -> None:
    deep: dict[str, Any] = {"v": 1}
    for _ in range(40):
        deep = {"d": deep}
    assert_error(await api.post("/tasks", {"kind": "k", "payload": deep}), 422, "32")
    huge_int = {"kind": "k", "payload": {"n": 10**30}}
    assert_error(await api.post("/tasks", huge_int), 422, "payload")
    await assert_nothing_stored(api)


async def test_payload_over_256_kib_is_413(api: Api) -> None:
    limit = 256 * 1024
    just_fits = {"s": "x" * (limit - len('{"s":""}'))}
    assert (await api.post("/tasks", {"kind": "k", "payload": just_fits})).status_code == 201
    over = {"s": "x" * (limit - len('{"s":""}') + 1)}
    body = assert_error(await api.post("/tasks", {"kind": "k", "payload": over}), 413, "262144")
    assert body["error"] == "PayloadTooLarge"
    assert (await api.http.get(f"{API}/stats")).json()["total"] == 1


async def test_result_over_256_kib_is_413_and_the_lease_stays(api: Api) -> None:
    await api.submit(id="t")
    (claimed,) = await api.claim()
    body = {"lease_token": claimed["lease_token"], "result": "x" * (300 * 1024)}
    assert_error(await api.post("/tasks/t/complete", body), 413)
    assert (await api.get("t"))["state"] == "running"
    ok = await api.post("/tasks/t/complete", {"lease_token": claimed["lease_token"], "result": 1})
    assert ok.status_code == 200


async def test_request_body_over_16_mib_is_413(api: Api) -> None:
    content = b'{"kind": "k", "payload": {"s": "' + b"x" * (16 * 1024 * 1024) + b'"}}'
    response = await api.http.post(f"{API}/tasks", content=content, headers=JSON_HEADERS)
    body = assert_error(response, 413)
    assert body["error"] == "PayloadTooLarge"
    await assert_nothing_stored(api)


async def test_streamed_body_over_16_mib_is_413(api: Api) -> None:
    """No content-length: the limit must still hold as the body streams in."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"kind": "k", "payload": {"s": "'
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    response = await api.http.post(f"{API}/tasks", content=chunks(), headers=JSON_HEADERS)
    assert "content-length" not in response.request.headers
    body = assert_error(response, 413)
    assert body["error"] == "PayloadTooLarge"
    await assert_nothing_stored(api)


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"not json", b'{"kind": "k",}', b"{'kind': 'k'}", b'{"kind": "k"} trailing'],
)
async def test_malformed_json_is_422(api: Api, content: bytes) -> None:
    response = await api.http.post(f"{API}/tasks", content=content, headers=JSON_HEADERS)
    assert_error(response, 422)
    await assert_nothing_stored(api)


@pytest.mark.parametrize("content", [b"[" * 100_000, b'"\xff\xfe"', b"\x00\x01"])
async def test_pathological_bodies_are_4xx(api: Api, content: bytes) -> None:
    response = await api.http.post(f"{API}/tasks", content=content, headers=JSON_HEADERS)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]
    await assert_nothing_stored(api)


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_json_numbers_in_a_payload_are_refused_not_rewritten(
    api: Api, token: bytes
) -> None:
    """NaN and infinities are not JSON; storing them as null would change what was accepted."""
    content = b'{"kind": "k", "payload": {"a": ' + token + b"}}"
    response = await api.http.post(f"{API}/tasks", content=content, headers=JSON_HEADERS)
    assert_error(response, 422)
    await assert_nothing_stored(api)


async def test_non_json_numbers_in_a_result_are_refused(api: Api) -> None:
    await api.submit(id="t")
    (claimed,) = await api.claim()
    content = b'{"lease_token": %d, "result": {"score": NaN}}' % claimed["lease_token"]
    response = await api.http.post(f"{API}/tasks/t/complete", content=content, headers=JSON_HEADERS)
    assert_error(response, 422)
    assert (await api.get("t"))["state"] == "running"


async def test_body_that_is_not_an_object_is_422(api: Api) -> None:
    for body in ([], [{"kind": "k"}], "k", 5, None):
        assert_error(await api.post("/tasks", body), 422)
    await assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"max": 0}, "max"),
        ({"max": 1001}, "max"),
        ({"wait": 31}, "wait"),
        ({"wait": -1}, "wait"),
        ({"queues": "default"}, "queues"),
        ({"max": "all"}, "max"),
    ],
)
async def test_bad_claims_are_422(api: Api, body: dict[str, Any], word: str) -> None:
    await api.submit()
    assert_error(await api.post("/workers/w/claim", body), 422, word)
    assert (await api.http.get(f"{API}/stats")).json()["states"] == {"queued": 1}


async def test_bad_worker_id_and_queue_name_in_claim_are_422(api: Api) -> None:
    assert_error(await api.post("/workers/bad%20id/claim", {}), 422, "worker id")
    assert_error(await api.post("/workers/w/claim", {"queues": ["no space"]}), 422, "queue")


@pytest.mark.parametrize("token", [2**63, 2**70, -(2**70)])
async def test_out_of_range_lease_tokens_are_refused_not_500(api: Api, token: int) -> None:
    await api.submit(id="t")
    await api.claim()
    for path, body in (
        ("/tasks/t/heartbeat", {"lease_token": token}),
        ("/tasks/t/complete", {"lease_token": token}),
        ("/tasks/t/fail", {"lease_token": token, "error": "e"}),
        ("/workers/w/report", {"completions": [{"id": "t", "lease_token": token}]}),
    ):
        response = await api.post(path, body)
        assert response.status_code in (409, 422), (path, response.status_code)
        assert response.json()
        if path.startswith("/workers"):
            assert response.status_code == 422 or response.json()["results"][0]["status"] == 409
    assert (await api.get("t"))["state"] == "running"


async def test_bad_lease_bodies_are_422(api: Api) -> None:
    await api.submit(id="t")
    (claimed,) = await api.claim()
    token = claimed["lease_token"]
    assert_error(await api.post("/tasks/t/complete", {}), 422, "lease_token")
    assert_error(await api.post("/tasks/t/complete", {"lease_token": "abc"}), 422)
    assert_error(await api.post("/tasks/t/fail", {"lease_token": token}), 422, "error")
    assert_error(await api.post("/tasks/t/fail", {"lease_token": token, "error": 5}), 422)
    assert_error(await api.post("/tasks/t/heartbeat", {"lease_token": None}), 422)
    huge_result = {"lease_token": token, "result": {"n": 10**30}}
    assert_error(await api.post("/tasks/t/complete", huge_result), 422, "result")
    bad_item = {"completions": [{"lease_token": token}]}
    assert_error(await api.post("/workers/w/report", bad_item), 422, "id")
    assert (await api.get("t"))["state"] == "running"


# -- random bodies -----------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
NAMES = st.sampled_from(["k", "echo", "a.b-c:d/e", "", " ", "x" * 129, "k\n", "-k"]) | st.text(
    max_size=10
)
TIMES = st.sampled_from(
    ["2030-01-01T00:00:00", "now", "", "2030-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]
) | st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-(24 * 60) + 1, 24 * 60 - 1),
)
PRIORITIES = (
    st.sampled_from(["high", "mid", "low", "urgent", "--5", "\u00b2", "007", "-0", " 5 ", True])
    | st.integers(-5, 105)
    | st.integers(-(2**70), 2**70)
    | st.text(max_size=6)
    | st.floats(allow_nan=False, allow_infinity=False)
)
NUMBERS = (
    st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "kind": NAMES,
    "payload": JSON_VALUES,
    "queue": NAMES,
    "priority": PRIORITIES,
    "id": NAMES,
    "run_at": TIMES,
    "delay": NUMBERS,
    "max_attempts": NUMBERS,
    "timeout": NUMBERS,
    "tenant": NAMES,
    "extra": JSON_VALUES,
}
# a valid task with one field drawn at random: reaches the checks behind the first refusal
ONE_FIELD = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda key: FIELDS[key].map(lambda value: {"kind": "k", key: value})
)
# any subset of the fields, each of its own kind or any JSON value
TASKISH = st.fixed_dictionaries(
    {}, optional={key: strategy | JSON_VALUES for key, strategy in FIELDS.items()}
)
BODIES = st.one_of(
    ONE_FIELD, ONE_FIELD, ONE_FIELD, TASKISH, TASKISH.map(lambda d: {"kind": "k", **d}), JSON_VALUES
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
@example(body={"kind": "k", "priority": "--5"})
@example(body={"kind": "k", "priority": "\u00b2"})
@example(body={"kind": "k", "run_at": "0001-01-01T00:00:00+14:00"})
@example(
    body={
        "kind": "k",
        "payload": {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    }
)
@example(body={"kind": "k", "payload": {"n": 2**64}})
async def test_random_bodies_never_cause_a_5xx(api: Api, body: Any) -> None:
    content = json.dumps(body).encode()
    response = await api.http.post(f"{API}/tasks", content=content, headers=JSON_HEADERS)
    assert response.status_code < 500, (body, response.status_code, response.text)
    assert response.status_code in (201, 409, 413, 422), (body, response.status_code)
    data = response.json()
    if response.status_code == 201:
        assert isinstance(body, dict)
        assert data["state"] in ("queued", "scheduled")
        assert 0 <= data["priority"] <= 100
        again = await api.http.get(f"{API}/tasks/{data['id']}")
        assert again.status_code == 200
        assert again.json()["payload"] == data["payload"]
    else:
        assert isinstance(data["message"], str) and data["message"]


@pytest.mark.parametrize(
    "payload", [{"a": "x\u0000y"}, {"a\u0000": 1}, {"deep": [{"b": ["\u0000"]}]}]
)
async def test_nul_characters_in_a_payload_are_422(api: Api, payload: dict[str, Any]) -> None:
    """PostgreSQL's JSON cannot hold U+0000: refused on every store, named in the message."""
    assert_error(await api.post("/tasks", {"kind": "k", "payload": payload}), 422, "NUL")
    batch = {"tasks": [{"kind": "k"}] * 80 + [{"kind": "k", "payload": payload}]}
    assert_error(await api.post("/tasks/batch", batch), 422, "NUL")
    await assert_nothing_stored(api)


async def test_a_nul_character_in_a_reported_error_is_replaced_not_refused(api: Api) -> None:
    await api.submit(id="t", max_attempts=1)
    (claimed,) = await api.claim()
    body = {"lease_token": claimed["lease_token"], "error": "bad\u0000byte", "retryable": False}
    response = await api.post("/tasks/t/fail", body)
    assert response.status_code == 200, response.text
    assert (await api.get("t"))["error"] == "bad\ufffdbyte"
