"""Store URLs in banners and logs never show a password."""

from __future__ import annotations

import pytest

from rota.config import redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://rota:s3cret@db:5432/rota?schema=x",
            "postgresql://rota:***@db:5432/rota?schema=x",
        ),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://u@h/db?password=abc&schema=s", "postgresql://u@h/db?password=***&schema=s"),
        ("sqlite:///var/rota.db", "sqlite:///var/rota.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_a_password_is_hidden_and_nothing_else_changes(url: str, shown: str) -> None:
    assert redacted(url) == shown
