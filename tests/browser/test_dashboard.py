"""The dashboard in headless Chromium against a live ``rota serve`` with a ``rota worker``:
login, every page with real data, actions the server allows or refuses, tenants, escaping."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Stack, login

pytestmark = pytest.mark.slow

PAGES = {  # path -> a selector that holds its data
    "/ui": "#queues table",
    "/ui/tasks": "#task-list table",
    "/ui/workers": "#workers table",
    "/ui/dead-letter": "#dead-list table",
    "/ui/schedules": "#schedules table",
    "/ui/queues": "#queue-list table",
    "/ui/queues/web": "#queue dl",
    "/ui/controls": "#blocks table",
    "/ui/audit": "#audit table",
}


def wait_state(stack: Stack, task_id: str, state: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = stack.task(task_id)
        if task["state"] == state or time.monotonic() > deadline:
            assert task["state"] == state, task
            return task
        time.sleep(0.1)


@pytest.fixture(scope="module")
def data(stack: Stack) -> dict[str, Any]:
    """One finished task, one in the dead letter, a schedule and an intake block."""
    done = stack.submit(kind="ok", queue="web", payload={"n": 1}, priority="high")
    dead = stack.submit(kind="gate", queue="web", payload={"path": "/nonexistent/gate"},
                        max_attempts=1)  # fmt: skip
    wait_state(stack, done["id"], "succeeded")
    wait_state(stack, dead["id"], "failed")
    with stack.http() as http:
        made = http.post("/schedules", json={"name": "nightly", "cron": "30 2 * * *",
                                             "task": {"kind": "ok", "queue": "web"}})  # fmt: skip
        assert made.status_code == 201, made.text
        blocked = http.post("/admin/intake/block", json={"tenant": "zeta", "reason": "audit"})
        assert blocked.status_code == 200, blocked.text
    return {"done": done, "dead": dead}


def test_ui_serves_its_page_and_files_from_this_server(stack: Stack) -> None:
    for path in ("/ui", "/ui/tasks/some-id"):
        page = httpx.get(f"{stack.url}{path}")
        assert page.status_code == 200 and "/ui/assets/app.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "set-cookie" not in page.headers
    assert "http://" not in page.text and "https://" not in page.text
    script = httpx.get(f"{stack.url}/ui/assets/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{stack.url}/ui/assets/nothing.js").status_code == 404


def test_a_wrong_token_is_refused_at_login(stack: Stack, page: Any) -> None:
    page.goto(f"{stack.url}/ui")
    page.fill("#token", "rota_not-a-token")
    page.click("form.login button[type=submit]")
    page.wait_for_selector("form.login .error:has-text('401')")


def test_every_page_renders_real_data(stack: Stack, page: Any, data: dict[str, Any]) -> None:
    login(page, stack, "operator")
    assert page.text_content("#who") == "operator"
    for path, selector in PAGES.items():
        page.goto(f"{stack.url}{path}")
        page.wait_for_selector(selector)
        assert not page.query_selector("main > .error"), path
    page.goto(f"{stack.url}/ui")
    page.wait_for_selector("#queues td:has-text('web')")
    page.goto(f"{stack.url}/ui/tasks?queue=web")
    page.wait_for_selector(f"#task-list a:has-text('{data['done']['id']}')")
    page.goto(f"{stack.url}/ui/tasks/{data['dead']['id']}")
    page.wait_for_selector("#error:has-text('the gate /nonexistent/gate is closed')")
    assert "Traceback" in page.text_content("#error")
    page.goto(f"{stack.url}/ui/workers")
    page.wait_for_selector("#workers td:has-text('every queue')")  # the one worker
    page.goto(f"{stack.url}/ui/schedules")
    page.wait_for_selector("#schedules td:has-text('nightly')")
    page.goto(f"{stack.url}/ui/controls")
    page.wait_for_selector("#blocks td:has-text('tenant zeta')")
    page.goto(f"{stack.url}/ui/audit")
    page.wait_for_selector("#audit td:has-text('intake.block')")
