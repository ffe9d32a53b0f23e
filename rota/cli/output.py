"""What every read command shares: the server options, and ``--output table|json``.

JSON goes to stdout as one document, without colour or wrapping, so scripts can pipe it to
``jq``; tables go through rich, sized to the terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType

from rota.config import Settings

DEFAULT_URL = Settings().url
Url = Annotated[str, typer.Option(envvar="ROTA_URL", help="the rota server")]
Token = Annotated[str | None, typer.Option(envvar="ROTA_TOKEN", help="credential")]


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Format, typer.Option("--output", "-o", help="table for people, json for scripts")
]


def jsonable(value: Any) -> Any:
    """Tasks, events and the client's dicts as plain JSON values (times as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "_asdict"):  # Task, a frozen tuple
        return {k: jsonable(v) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # Event, ...
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def emit(output: Format, data: Any, table: Callable[[], RenderableType | str]) -> None:
    """Print ``data`` as JSON, or the table ``table()`` makes of it."""
    if output is Format.JSON:
        typer.echo(json.dumps(jsonable(data), indent=2, sort_keys=True))
    else:
        Console().print(table())
