"""``rota queue show|set``: a queue's settings, through the HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rota.cli.output import Format, OutputOption, emit
from rota.client import Client
from rota.config import Settings

queue_app = typer.Typer(help="A queue's settings: size, fairness, aging, defaults.",
                        no_args_is_help=True)  # fmt: skip
console = Console()
Url = Annotated[str, typer.Option(envvar="ROTA_URL", help="the rota server")]
Token = Annotated[str | None, typer.Option(envvar="ROTA_TOKEN", help="credential")]
NameArg = Annotated[str, typer.Argument(help="the queue's name")]
DEFAULT_URL = Settings().url
#: typed as a word on the command line, sent as null (the setting's default)
RESET = "default"


def _show(found: dict[str, Any]) -> None:
    table = Table(title=f"queue {found['name']}", show_header=False)
    for key, value in found.items():
        if key != "name":
            table.add_row(key, "-" if value in (None, {}) else str(value))
    console.print(table)


@queue_app.command("show")
def show(
    name: NameArg, output: OutputOption = Format.TABLE, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """The queue's settings, whether it is paused, and its waiting tasks."""
    with Client(url, token=token) as client:
        found = client.queue(name)
    if output is Format.JSON:
        return emit(output, found, str)
    _show(found)


def _number(text: str | None, convert: type[int] | type[float]) -> Any:
    if text is None or text == RESET:
        return None
    try:
        return convert(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give a number, or {RESET!r}") from None


@queue_app.command("set")
def set_(
    name: NameArg,
    max_size: Annotated[str | None, typer.Option(help=f"waiting tasks at most, or {RESET}")] = None,
    fairness: Annotated[str | None, typer.Option(help="off, round_robin or weighted")] = None,
    weight: Annotated[
        list[str] | None, typer.Option(help="KEY=WEIGHT for weighted fairness (repeatable)")
    ] = None,
    aging_rate: Annotated[
        str | None, typer.Option(help=f"priority points per minute of waiting, or {RESET}")
    ] = None,
    aging_cap: Annotated[int, typer.Option(help="the priority aging stops at")] = 100,
    on_conflict: Annotated[
        str | None,
        typer.Option(
            help="reject, existing, replace, update_payload, raise_priority, update_priority "
            "or update"
        ),
    ] = None,
    concurrency_limit: Annotated[
        str | None, typer.Option(help=f"running tasks across every worker, or {RESET}")
    ] = None,
    tenant_concurrency_limit: Annotated[
        str | None, typer.Option(help=f"one tenant's running tasks, or {RESET}")
    ] = None,
    rate_limit: Annotated[
        str | None, typer.Option(help=f"tasks started a second, or {RESET}")
    ] = None,
    max_attempts: Annotated[str | None, typer.Option(help=f"default, or {RESET}")] = None,
    timeout: Annotated[str | None, typer.Option(help=f"default seconds, or {RESET}")] = None,
    retention: Annotated[str | None, typer.Option(help=f"seconds, or {RESET}")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Change some settings; the word 'default' puts one back to its default."""
    changes: dict[str, Any] = {}
    if max_size is not None:
        changes["max_size"] = _number(max_size, int)
    if fairness is not None:
        changes["fairness"] = fairness
    if on_conflict is not None:
        changes["on_conflict"] = on_conflict
    if weight:
        pairs = [w.partition("=") for w in weight]
        if any(not sep for _, sep, _ in pairs):
            raise typer.BadParameter("--weight takes KEY=WEIGHT, e.g. acme=3")
        changes["weights"] = {key: int(_number(value, int)) for key, _, value in pairs}
    if aging_rate is not None:
        rate = _number(aging_rate, float)
        changes["aging"] = None if rate is None else {"rate": rate, "cap": aging_cap}
    for key, text, convert in (
        ("max_attempts", max_attempts, int), ("timeout", timeout, float),
        ("retention", retention, float), ("concurrency_limit", concurrency_limit, int),
        ("tenant_concurrency_limit", tenant_concurrency_limit, int),
        ("rate_limit", rate_limit, float),
    ):  # fmt: skip
        if text is not None:
            changes[key] = _number(text, convert)
    if not changes:
        raise typer.BadParameter("give at least one setting to change")
    with Client(url, token=token) as client:
        _show(client.update_queue(name, **changes))
