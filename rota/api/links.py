"""OpenAPI links: how one answer feeds the next request (submit -> claim -> report, a cd job
to its completion, a DMS task to its cancel). Clients and generators read them; a stateful
fuzzer (Schemathesis, ``make fuzz``) follows them to reach a live lease."""

from __future__ import annotations

from typing import Any

#: what a fuzzer's chained claim calls itself
WORKER = "linked-worker"
_TASK_ID = "$response.body#/id"
_CLAIMED = "$response.body#/tasks/0/id"
_LEASE = "$response.body#/tasks/0/lease_token"
_API = "/api/v1"


def _op(operation_id: str, parameters: dict[str, Any], body: Any = None) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation_id, "parameters": parameters}
    if body is not None:
        link["requestBody"] = body
    return link


def _task_links(task_id: str) -> dict[str, Any]:
    return {
        "GetTask": _op("get_task_api_v1_tasks__task_id__get", {"task_id": task_id}),
        "TaskEvents": _op("task_events_api_v1_tasks__task_id__events_get", {"task_id": task_id}),
        "CancelTask": _op("cancel_api_v1_tasks__task_id__cancel_post", {"task_id": task_id}),
        "ClaimIt": _op(
            "claim_api_v1_workers__worker_id__claim_post",
            {"worker_id": WORKER},
            {"queues": ["$response.body#/queue"], "max": 1},
        ),
    }


#: (method, path, status) -> the links of that answer
LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("post", f"{_API}/tasks", "201"): _task_links(_TASK_ID),
    ("post", f"{_API}/workers/{{worker_id}}/claim", "200"): {
        "Complete": _op(
            "complete_api_v1_tasks__task_id__complete_post",
            {"task_id": _CLAIMED},
            {"lease_token": _LEASE, "result": {"ok": True}},
        ),
        "Fail": _op(
            "fail_api_v1_tasks__task_id__fail_post",
            {"task_id": _CLAIMED},
            {"lease_token": _LEASE, "error": "linked failure"},
        ),
        "Heartbeat": _op(
            "heartbeat_api_v1_tasks__task_id__heartbeat_post",
            {"task_id": _CLAIMED},
            {"lease_token": _LEASE},
        ),
        "Report": _op(
            "report_api_v1_workers__worker_id__report_post",
            {"worker_id": "$request.path.worker_id"},
            {"completions": [{"id": _CLAIMED, "lease_token": _LEASE}]},
        ),
    },
    ("post", "/jobs", "201"): {
        "GetJob": _op("get_job_jobs__job_id__get", {"job_id": _TASK_ID}),
        "NextJob": _op("next_job_next_job_get", {"worker_id": WORKER}),
    },
    ("get", "/next-job", "200"): {
        "CompleteJob": _op(
            "complete_jobs__job_id__complete_post", {"job_id": _TASK_ID}, {"success": True}
        ),
    },
    ("post", "/tasks", "201"): {
        "GetDmsTask": _op("get_task_tasks__task_id__get", {"task_id": "$response.body#/task_id"}),
        "CancelDmsTask": _op(
            "cancel_tasks_cancel_post", {}, {"task_id": "$response.body#/task_id"}
        ),
    },
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Write the links into the document, for the routes it has (compat routers are
    optional); an operation id that no longer exists fails tests/api/test_openapi.py."""
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = links
    return schema
