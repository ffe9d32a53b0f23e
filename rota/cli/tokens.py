"""``rota token create|list|revoke``: API tokens kept hashed in the store.

These commands talk to the store named by ``ROTA_DATABASE_URL`` directly, as ``rota db``
does: whoever can reach the store owns it already. ``create`` prints the new secret alone
on stdout (it is shown once and never stored), so ``export ROTA_TOKEN=$(rota token create
...)`` works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rota.backends import Backend, backend_from_url
from rota.cli.output import Format, OutputOption, emit
from rota.config import Settings
from rota.core.auth import TokenRecord
from rota.core.clock import SystemClock
from rota.service.tokens import StoredTokens

T = TypeVar("T")
token_app = typer.Typer(help="API tokens (stored hashed).", no_args_is_help=True)
DatabaseUrl = Annotated[
    str, typer.Option(envvar="ROTA_DATABASE_URL", help="the store that keeps the tokens")
]
DEFAULT_URL = Settings().database_url


def _with_store(url: str, action: Callable[[Backend], Awaitable[T]]) -> T:
    async def run() -> T:
        backend = backend_from_url(url)
        await backend.open()
        try:
            return await action(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="producer, worker, viewer or operator")],
    name: Annotated[str | None, typer.Option(help="unique; default: <role>-<n>")] = None,
    tenant: Annotated[str | None, typer.Option(help="bind a producer or viewer")] = None,
    expires_in: Annotated[float | None, typer.Option(help="seconds it stays valid")] = None,
    database_url: DatabaseUrl = DEFAULT_URL,
) -> None:
    """Make a token and print its secret (only now; rota keeps its digest)."""

    async def make(backend: Backend) -> tuple[TokenRecord, str]:
        stored = StoredTokens(backend, SystemClock().now)
        return await stored.create(role=role, name=name, tenant=tenant, expires_in=expires_in)

    record, secret = _with_store(database_url, make)
    Console(stderr=True).print(f"token {record.name!r} ({record.role.value}) created; its secret:")
    print(secret)


@token_app.command("list")
def list_(output: OutputOption = Format.TABLE, database_url: DatabaseUrl = DEFAULT_URL) -> None:
    """Every stored token: role, tenant, expiry, revocation and last use (never secrets)."""
    tokens = _with_store(database_url, lambda backend: backend.token_list())
    if output is Format.JSON:
        keep = ("name", "role", "tenant", "created_at", "expires_at", "revoked_at", "last_used_at")
        return emit(output, {"tokens": [{k: getattr(t, k) for k in keep} for t in tokens]}, str)
    now = SystemClock().now()
    table = Table("name", "role", "tenant", "created", "expires", "revoked", "last used", "live")
    for t in tokens:
        cells = [t.created_at, t.expires_at, t.revoked_at, t.last_used_at]
        times = [c.strftime("%Y-%m-%d %H:%M") if c else "-" for c in cells]
        table.add_row(t.name, t.role.value, t.tenant or "-", *times, "yes" if t.live(now) else "no")
    Console().print(table)


@token_app.command("revoke")
def revoke(name: str, database_url: DatabaseUrl = DEFAULT_URL) -> None:
    """Revoke a token by name; servers refuse it within 5 seconds."""
    _with_store(database_url, lambda backend: StoredTokens(backend, SystemClock().now).revoke(name))
    Console(stderr=True).print(f"token {name!r} revoked")
