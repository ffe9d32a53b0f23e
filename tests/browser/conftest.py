"""A real ``rota serve`` and ``rota worker`` for the dashboard, driven by headless Chromium
(Debian's ``chromium`` package) through Playwright, never a downloaded browser.

Without chromium (or Playwright) the browser tests skip, except under ``CI=true``, where
they fail: CI must not pass by skipping them (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROTA, Procs

ROLES = {  # name -> (role, tenant)
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "acme-viewer": ("viewer", "acme"),
    "worker": ("worker", None),
}


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: the browser tests cannot run (CI=true)")
    pytest.skip(f"{what}: skipping the browser tests")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("no chromium on PATH (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Per module, not per session: Playwright's sync API runs an event loop in this
    thread while it is open, and the asyncio tests that follow cannot start theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        opened = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield opened
        finally:
            opened.close()


@dataclass
class Stack:
    """A live server with one worker, and a secret per role."""

    procs: Procs
    secrets: dict[str, str]

    @property
    def url(self) -> str:
        return self.procs.url

    def http(self, who: str = "operator") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.secrets[who]}"}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=10)

    def submit(self, **body: Any) -> dict[str, Any]:
        with self.http() as http:
            answer = http.post("/tasks", json=body)
        assert answer.status_code == 201, answer.text
        task: dict[str, Any] = answer.json()
        return task

    def task(self, task_id: str) -> dict[str, Any]:
        with self.http() as http:
            answer = http.get(f"/tasks/{task_id}")
        assert answer.status_code == 200, answer.text
        task: dict[str, Any] = answer.json()
        return task


@pytest.fixture(scope="module")
def stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    procs = Procs(tmp_path_factory.mktemp("ui"))
    procs.env.pop("ROTA_TOKEN", None)
    secrets = {}
    for name, (role, tenant) in ROLES.items():
        args = ["token", "create", "--role", role, "--name", name]
        if tenant:
            args += ["--tenant", tenant]
        done = subprocess.run([ROTA, *args], env=procs.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        secrets[name] = done.stdout.strip()
    try:
        procs.serve()
        procs.env["ROTA_TOKEN"] = secrets["worker"]
        procs.worker("--concurrency", "4", "--app", "tests.browser.handlers:registry")
        yield Stack(procs, secrets)
    finally:
        procs.stop_all()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def login(page: Any, stack: Stack, who: str, path: str = "/ui") -> None:
    """Open ``path`` and log in with ``who``'s token; waits for the navigation bar."""
    page.goto(f"{stack.url}{path}")
    page.fill("#token", stack.secrets[who])
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#who")


def gate_file(tmp: Path) -> Path:
    return tmp / "gate-open"
