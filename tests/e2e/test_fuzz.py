"""Schemathesis (from PyPI) against a live ``rota serve``'s OpenAPI document, with every
check: no 5xx, every status and body as documented, valid input accepted and invalid input
refused, and the stateful phase following the document's links (submit -> claim -> report).

``make test`` runs a short, seeded pass; ``make fuzz`` sets ``ROTA_FUZZ_EXAMPLES=200`` and a
fresh seed. The intake block and tenant disable routes run in a pass of their own: a block
the fuzzer sets would turn every later submit into a (documented, correct) 503 and starve
the other routes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Procs

# The main pass takes about two minutes on a 2-core machine, past the suite's 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ST = str(Path(sys.executable).parent / "st")
FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
TOKEN = "fuzz-operator-token"
BLOCKS = "/((intake/)?block|tenants/disable)$"


def schemathesis(procs: Procs, *args: str) -> None:
    examples = os.environ.get("ROTA_FUZZ_EXAMPLES", "10")
    seed = os.environ.get("ROTA_FUZZ_SEED", "" if "ROTA_FUZZ_EXAMPLES" in os.environ else "1")
    command = [
        ST,
        "--config-file",
        str(FUZZ / "schemathesis.toml"),
        "run",
        f"{procs.url}/openapi.json",
        "-H",
        f"Authorization: Bearer {TOKEN}",
        "--max-examples",
        examples,
        *(["--seed", seed] if seed else []),
        *args,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(FUZZ / "hooks.py")}
    done = subprocess.run(
        command, cwd=procs.tmp, env=env, capture_output=True, text=True, timeout=1800
    )
    report = procs.tmp / "schemathesis.txt"  # the whole report: the message keeps its end
    report.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"{report}\n" + done.stdout[-20000:] + done.stderr[-5000:]
    assert " passed" in done.stdout  # it ran cases, not nothing


@pytest.fixture
def served(procs: Procs) -> Procs:
    procs.env.update(ROTA_TOKEN=TOKEN, ROTA_COMPAT="dms,cd", DMS_OPERATOR_TOKEN="fuzz-dms-operator")
    procs.serve()
    return procs


def test_every_route_but_the_blocks_conforms(served: Procs) -> None:
    schemathesis(served, "--exclude-path-regex", BLOCKS)


def test_the_block_routes_conform(served: Procs) -> None:
    schemathesis(served, "--include-path-regex", BLOCKS, "--phases", "examples,coverage,fuzzing")
