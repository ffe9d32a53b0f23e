"""Task and job ids: UUIDv7 strings, unique and sortable by creation time."""

from __future__ import annotations

import re

import uuid_utils

from rota.core.errors import ValidationError
from rota.core.limits import MAX_ID_LENGTH

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")


def new_id() -> str:
    return str(uuid_utils.uuid7())


def check_id(value: str, what: str = "id") -> str:
    if not value or len(value) > MAX_ID_LENGTH or not _ID_PATTERN.fullmatch(value):
        raise ValidationError(
            f"{what} {quote(value)} is invalid: use 1..{MAX_ID_LENGTH} characters of "
            "letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
        )
    return value


def quote(value: object, limit: int = 40) -> str:
    """``repr`` of what a caller sent, cut to a short prefix: an error names what it refuses
    without echoing megabytes back."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else "long"
    return f"{text[:limit]}... ({size})"
