"""Configured tokens: ROTA_TOKEN and ROTA_TOKENS_FILE, resolved in constant time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rota.config import Settings
from rota.core.auth import OPEN, Role, digest
from rota.core.errors import ValidationError
from rota.service.tokens import Tokens


def tokens_file(tmp_path: Path, entries: Any) -> str:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(entries))
    return str(path)


async def test_rota_token_is_an_operator_token_named_default() -> None:
    tokens = Tokens.from_settings(Settings(token="a-long-enough-secret"))
    principal = await tokens.resolve("a-long-enough-secret")
    assert principal is not None and (principal.name, principal.role) == ("default", Role.OPERATOR)
    assert principal.actor == "token:default"
    assert await tokens.resolve("a-long-enough-secreT") is None
    assert await tokens.resolve("") is None
    assert await tokens.required()


async def test_a_tokens_file_gives_roles_tenants_and_digests(tmp_path: Path) -> None:
    entries = [
        {"name": "ingest", "role": "producer", "tenant": "acme", "secret": "p" * 32},
        {"name": "runner", "role": "worker", "sha256": digest("w" * 32).upper()},
    ]
    tokens = Tokens.from_settings(Settings(tokens_file=tokens_file(tmp_path, entries)))
    producer = await tokens.resolve("p" * 32)
    worker = await tokens.resolve("w" * 32)
    assert producer is not None and (producer.role, producer.tenant) == (Role.PRODUCER, "acme")
    assert worker is not None and (worker.name, worker.role) == ("runner", Role.WORKER)


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"name": "x"}, ["JSON list"]),
        ([{"name": "x", "role": "producer"}], ["exactly one of secret and sha256"]),
        ([{"name": "x", "role": "boss", "secret": "s" * 32}], ["role 'boss'", "operator"]),
        ([{"name": "x", "role": "worker", "tenant": "a", "secret": "s" * 32}], ["tenant"]),
        ([{"name": "x", "role": "viewer", "secret": "short"}], ["16 characters"]),
        ([{"name": "x", "role": "viewer", "sha256": "abc"}], ["64 hex digits"]),
        ([{"name": "x", "role": "viewer", "secret": "s" * 32, "admin": True}], ["keys"]),
        ([{"name": "bad name", "role": "viewer", "secret": "s" * 32}], ["token name"]),
    ],
)
def test_a_bad_tokens_file_names_the_entry_and_the_fix(
    tmp_path: Path, entries: Any, words: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        Tokens.from_settings(Settings(tokens_file=tokens_file(tmp_path, entries)))
    for word in words:
        assert word in str(caught.value)


def test_an_unreadable_tokens_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read it as JSON"):
        Tokens.from_settings(Settings(tokens_file=str(tmp_path / "missing.json")))


async def test_no_token_configured_means_open() -> None:
    tokens = Tokens.from_settings(Settings(token=None, tokens_file=None))
    assert not tokens.configured
    assert not await tokens.required()
    assert OPEN.actor == "api" and OPEN.role is Role.OPERATOR
