"""The dashboard in headless Chromium against a live ``rota serve`` with a ``rota worker``:
login, every page with real data, actions the server allows or refuses, tenants, escaping."""

from __future__ import annotations

import json
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
    problems: list[str] = []  # script errors, CSP refusals, failed loads
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
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
    assert not problems


def test_lists_update_themselves(stack: Stack, page: Any) -> None:
    login(page, stack, "operator", "/ui/tasks?queue=live")
    page.wait_for_selector("#task-list .empty")
    task = stack.submit(kind="ok", queue="live", payload={"n": 2})
    page.wait_for_selector(f"#task-list a:has-text('{task['id']}')", timeout=10_000)
    page.wait_for_selector("#task-list .badge:has-text('succeeded')", timeout=10_000)


def dead_letter(page: Any, stack: Stack, queue: str) -> None:
    """Retry the dead letter of ``queue`` through the page, confirming when asked."""
    page.goto(f"{stack.url}/ui/dead-letter")
    page.fill("#dead-filter input[name=queue]", queue)
    page.click("#dead-filter button[type=submit]")
    page.wait_for_selector(f"#dead-list td:has-text('{queue}')")
    page.click("#retry-all")
    assert "Retry 1 task(s) listed matching queue=" in page.text_content(".confirm")
    page.click("[data-confirm]")


def test_an_operator_retries_a_dead_letter_task_and_it_runs(
    stack: Stack, page: Any, tmp_path: Any
) -> None:
    gate = tmp_path / "open"
    dead = stack.submit(kind="gate", queue="dl", payload={"path": str(gate)}, max_attempts=1)
    wait_state(stack, dead["id"], "failed")
    gate.touch()
    login(page, stack, "operator")
    dead_letter(page, stack, "dl")
    page.wait_for_selector("#action-status:has-text('Retry: done')")
    done = wait_state(stack, dead["id"], "succeeded")
    assert done["result"] == {"passed": str(gate)}
    page.wait_for_selector("#dead-list:has-text('no failed task')")


def test_a_viewer_sees_but_every_action_is_refused_by_the_server(
    stack: Stack, page: Any, tmp_path: Any
) -> None:
    gate = tmp_path / "open"
    dead = stack.submit(kind="gate", queue="dlv", payload={"path": str(gate)}, max_attempts=1)
    wait_state(stack, dead["id"], "failed")
    gate.touch()  # a retry would now succeed: only the refusal keeps it failed
    login(page, stack, "viewer")
    assert page.text_content("#who") == "viewer"
    dead_letter(page, stack, "dlv")
    page.wait_for_selector("#action-status.error:has-text('403')")
    page.goto(f"{stack.url}/ui/tasks/{dead['id']}")
    page.click("#retry")
    page.wait_for_selector("#action-status.error:has-text('403')")
    page.click("#cancel")
    page.wait_for_selector("#action-status.error:has-text('403')")
    page.goto(f"{stack.url}/ui/queues/dlv")
    page.click("#pause")
    page.wait_for_selector("#action-status.error:has-text('403')")
    page.goto(f"{stack.url}/ui/controls")
    page.fill("#block input[name=reason]", "a viewer tries")
    page.click("#block button[type=submit]")
    page.wait_for_selector("#action-status.error:has-text('403')")
    time.sleep(0.5)
    assert stack.task(dead["id"])["state"] == "failed"
    with stack.http() as http:
        assert http.get("/queues/dlv").json()["paused"] is False
        blocks = http.get("/admin/intake").json()["blocks"]
        assert not any(b["reason"] == "a viewer tries" for b in blocks)


def test_a_tenant_bound_token_sees_only_its_tenant(stack: Stack, page: Any) -> None:
    mine = stack.submit(kind="ok", queue="tq", tenant="acme", payload={"who": "acme"})
    theirs = stack.submit(kind="ok", queue="tq", tenant="other", payload={"who": "other"})
    wait_state(stack, theirs["id"], "succeeded")
    wait_state(stack, mine["id"], "succeeded")
    login(page, stack, "acme-viewer")
    assert page.text_content("#who") == "viewer · one tenant"
    page.wait_for_selector("#queues td:has-text('tq')")
    page.goto(f"{stack.url}/ui/tasks?queue=tq")
    page.wait_for_selector(f"#task-list a:has-text('{mine['id']}')")
    listed = page.text_content("#task-list")
    assert theirs["id"] not in listed and "other" not in listed
    page.goto(f"{stack.url}/ui/tasks/{theirs['id']}")
    page.wait_for_selector("main > .error:has-text('404')")
    assert "other" not in page.text_content("main")
    page.goto(f"{stack.url}/ui/tasks?tenant=other")
    page.wait_for_selector("main > .error:has-text('403')")


def test_nothing_a_stranger_submits_runs_as_script(stack: Stack, page: Any) -> None:
    bad = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    task = stack.submit(kind="gate", queue="xss", payload={"path": bad, "note": bad},
                        max_attempts=1)  # fmt: skip
    wait_state(stack, task["id"], "failed")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, stack, "operator")
    for path in (f"/ui/tasks/{task['id']}", "/ui/tasks?queue=xss", "/ui/dead-letter"):
        page.goto(f"{stack.url}{path}")
        page.wait_for_selector(f"main :text('{task['id']}')")
    page.goto(f"{stack.url}/ui/tasks/{task['id']}")
    page.wait_for_selector("#error")
    assert bad in page.text_content("#error")  # shown as text
    assert json.dumps(bad) in page.text_content("pre.json")
    assert page.evaluate("window.__pwned") is None
    assert not page.query_selector("main img, main script") and not dialogs


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_every_page_fits_the_screen(
    stack: Stack, browser: Any, data: dict[str, Any], width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        login(page, stack, "operator")
        for path, selector in {**PAGES, f"/ui/tasks/{data['dead']['id']}": "#error"}.items():
            page.goto(f"{stack.url}{path}")
            page.wait_for_selector(selector)
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (path, overflow)
            assert page.is_visible("header nav a:has-text('Tasks')") or width < 500
    finally:
        context.close()
