"""``rota token create|list|revoke``: API tokens kept hashed in the store.

These commands talk to the store named by ``ROTA_DATABASE_URL`` directly, as ``rota db``
does: whoever can reach the store owns it already. ``create`` prints the new secret alone
on stdout (it is shown once and never stored), so ``export ROTA_TOKEN=$(rota token create
...)`` works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rota.backends import Backend, backend_from_url
from rota.config import Settings
from rota.core.auth import TokenRecord, check_binding, digest, new_secret, parse_role
from rota.core.clock import SystemClock
from rota.core.errors import Conflict, NotFound
from rota.service.validation import check_name

T = TypeVar("T")
token_app = typer.Typer(help="API tokens (stored hashed).", no_args_is_help=True)
DatabaseUrl = Annotated[
    str, typer.Option(envvar="ROTA_DATABASE_URL", help="the store that keeps the tokens")
]
DEFAULT_URL = Settings.model_fields["database_url"].default


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
    kind = parse_role(role)
    if tenant is not None:
        check_name(tenant, "tenant")
    check_binding(kind, tenant)
    if expires_in is not None and not 0 < expires_in <= 10 * 365 * 86400:
        raise typer.BadParameter("--expires-in must be between 0 and ten years of seconds")
    secret = new_secret()
    now = SystemClock().now()

    async def insert(backend: Backend) -> str:
        taken = {t.name for t in await backend.token_list()}
        chosen = name or next(f"{kind.value}-{n}" for n in range(1, 10**6) if
                              f"{kind.value}-{n}" not in taken)  # fmt: skip
        check_name(chosen, "token name")
        expires = None if expires_in is None else now + timedelta(seconds=expires_in)
        record = TokenRecord(chosen, digest(secret), kind, tenant, now, expires_at=expires)
        if not await backend.token_insert(record):
            raise Conflict(f"a token named {chosen!r} exists already: pick another --name")
        return chosen

    chosen = _with_store(database_url, insert)
    Console(stderr=True).print(f"token {chosen!r} ({kind.value}) created; its secret:")
    print(secret)


@token_app.command("list")
def list_(database_url: DatabaseUrl = DEFAULT_URL) -> None:
    """Every stored token: role, tenant, expiry, revocation and last use (never secrets)."""
    tokens = _with_store(database_url, lambda backend: backend.token_list())
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
    now = SystemClock().now()
    if not _with_store(database_url, lambda backend: backend.token_revoke(name, now=now)):
        raise NotFound(f"no live token named {name!r} (see `rota token list`)")
    Console(stderr=True).print(f"token {name!r} revoked")
