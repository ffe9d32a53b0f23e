"""Fail closed with real processes: `rota serve` refuses a public address with no token,
and tokens made by `rota token create` carry a producer, a worker and an operator through
a real server."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.e2e.conftest import ROTA, Procs

pytestmark = pytest.mark.slow


def run(procs: Procs, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(procs.env)
    env.pop("ROTA_TOKEN", None)
    if token is not None:
        env["ROTA_TOKEN"] = token
    return subprocess.run([ROTA, *args], env=env, capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_public_address_without_a_token(procs: Procs) -> None:
    done = run(procs, "serve", "--host", "0.0.0.0", "--port", str(procs.port))
    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())
    assert "refusing to serve 0.0.0.0 with no token" in said
    assert "--insecure" in said
    assert "Traceback" not in said
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{procs.url}/api/v1/health", timeout=1)


def test_tokens_from_the_cli_carry_each_role_through_a_real_server(procs: Procs) -> None:
    made = {}
    for role, extra in (("operator", []), ("worker", []), ("producer", ["--tenant", "acme"])):
        done = run(procs, "token", "create", "--role", role, "--name", role, *extra)
        assert done.returncode == 0, done.stderr
        (secret,) = done.stdout.split()  # the secret alone on stdout
        assert secret.startswith("rota_") and len(secret) > 40
        made[role] = secret
    listed = run(procs, "token", "list")
    assert all(name in listed.stdout for name in made)
    assert not any(secret in listed.stdout + listed.stderr for secret in made.values())

    procs.serve()  # loopback; tokens exist in the store, so every route needs one
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        assert http.post("/tasks", json={"kind": "record"}).status_code == 401
        headers = {"Authorization": f"Bearer {made['producer']}"}
        submitted = http.post("/tasks", json={"kind": "record"}, headers=headers)
        assert submitted.status_code == 201, submitted.text
        assert submitted.json()["tenant"] == "acme"
        assert http.get("/stats", headers=headers).status_code == 403

    procs.env["ROTA_TOKEN"] = made["worker"]
    procs.worker("--concurrency", "1", "--app", "tests.e2e.recorder:registry")
    assert procs.wait_recorded(1) == [submitted.json()["id"]]

    shown = run(procs, "task", submitted.json()["id"], token=made["operator"])
    assert shown.returncode == 0, shown.stderr
    assert "succeeded" in shown.stdout
    refused = run(procs, "task", submitted.json()["id"], token="rota_not-a-real-token")
    assert refused.returncode == 1 and "401" in refused.stderr

    assert run(procs, "token", "revoke", "operator").returncode == 0
    again = run(procs, "token", "revoke", "operator")
    assert again.returncode == 1 and "no live token" in again.stderr
