"""Screenshots of every dashboard page at 1280x800 and 390x844, into docs/screenshots/.

Opt-in (``ROTA_SCREENSHOTS=1 pytest tests/browser/test_screenshots.py``): it rewrites
committed files, so the ordinary test run leaves them alone."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack, login

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("ROTA_SCREENSHOTS") != "1", reason="ROTA_SCREENSHOTS=1"),
]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def populate(stack: Stack) -> str:
    """A little of everything: queues and priorities, running and failed tasks, a
    schedule, a pause, an intake block; the id of a failed task."""
    failed = ""
    for i in range(3):
        failed = stack.submit(
            kind="gate", queue="billing", payload={"path": f"/nonexistent/invoice-{i}"},
            max_attempts=1,
        )["id"]  # fmt: skip
    for i, (queue, priority) in enumerate(
        [("email", "high"), ("email", "mid"), ("reports", "low"), ("reports", 80)] * 6
    ):
        stack.submit(kind="ok", queue=queue, priority=priority, payload={"n": i})
    stack.submit(kind="nap", queue="reports", payload={"seconds": 120})  # one running
    with stack.http() as http:
        for body in (
            {"name": "nightly-report", "cron": "30 2 * * *", "timezone": "Europe/Amsterdam",
             "task": {"kind": "ok", "queue": "reports"}},
            {"name": "heartbeat", "interval": 300, "task": {"kind": "ok", "queue": "email"}},
        ):  # fmt: skip
            assert http.post("/schedules", json=body).status_code == 201
        http.post("/admin/dispatch/pause", json={"queue": "video", "reason": "encoder upgrade"})
        http.post("/admin/intake/block", json={"tenant": "trial", "reason": "over quota"})
        http.patch("/queues/email", json={"max_size": 10000, "rate_limit": 50})
        for i in range(12):  # waiting in a paused queue
            http.post("/tasks", json={"kind": "ok", "queue": "video", "priority": i * 8})
    deadline = time.monotonic() + 30
    while stack.task(failed)["state"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
    return failed


def shot(page: Any, path: Path) -> None:
    """A PNG of the viewport, cut to 64 colours when Pillow is installed (about a third
    of the size; the dashboard has few colours)."""
    page.screenshot(path=str(path))
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        image.convert("RGB").quantize(64).save(path, optimize=True)


def test_screenshots(stack: Stack, browser: Any) -> None:
    failed = populate(stack)
    pages = {
        "overview": "/ui", "tasks": "/ui/tasks", "task": f"/ui/tasks/{failed}",
        "workers": "/ui/workers", "dead-letter": "/ui/dead-letter",
        "schedules": "/ui/schedules", "queues": "/ui/queues", "queue": "/ui/queues/email",
        "controls": "/ui/controls", "audit": "/ui/audit",
    }  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            page.goto(f"{stack.url}/ui")
            page.wait_for_selector("#token")
            shot(page, OUT / f"login-{size}.png")
            login(page, stack, "operator")
            for name, path in pages.items():
                page.goto(f"{stack.url}{path}")
                page.wait_for_selector("main table, main dl, main .empty")
                if name == "overview":  # a few throughput points, tasks finishing meanwhile
                    for i in range(8):
                        for _ in range(4 + 3 * (i % 3)):
                            stack.submit(kind="ok", queue="email", payload={"burst": i})
                        page.wait_for_timeout(1500)
                else:
                    page.wait_for_timeout(300)
                shot(page, OUT / f"{name}-{size}.png")
        finally:
            context.close()
