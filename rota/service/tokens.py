"""Resolve a bearer secret to a principal: configured tokens, then the store's.

Configured tokens come from ``ROTA_TOKEN`` (an operator token named ``default``: what the
worker, the client and the CLI send, so ``rota up`` works with one variable) and from
``ROTA_TOKENS_FILE``, a JSON list of ``{"name", "role", "tenant"?, "secret" | "sha256"}``.
Stored tokens are made by ``rota token create`` or the admin routes (``StoredTokens``) and
kept hashed, with expiry, revocation and last use. A resolved stored token is remembered for
``CACHE_SECONDS``: a revocation takes effect within that time on every server.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.core.auth import (
    Principal,
    TokenRecord,
    check_binding,
    digest,
    new_secret,
    parse_role,
    same_digest,
)
from rota.core.errors import Conflict, NotFound, ValidationError
from rota.core.ids import quote
from rota.service.validation import check_name

if TYPE_CHECKING:
    from rota.backends import Backend
    from rota.config import Settings

CACHE_SECONDS = 5.0
#: last use is written at most this often per token
TOUCH_EVERY = timedelta(minutes=1)
#: the longest secret looked at; anything longer is no token of ours
MAX_SECRET_CHARS = 256


class Tokens:
    def __init__(
        self,
        configured: list[TokenRecord],
        backend: Backend | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._configured = configured
        self._backend = backend
        self._now = now
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._any_stored: tuple[float, bool] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        backend: Backend | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> Tokens:
        created = datetime.min
        configured = []
        if settings.token:
            configured.append(TokenRecord("default", digest(settings.token), parse_role("operator"),
                                          None, created))  # fmt: skip
        if settings.tokens_file:
            configured.extend(load_file(Path(settings.tokens_file), created))
        return cls(configured, backend, now)

    @property
    def configured(self) -> bool:
        return bool(self._configured)

    async def required(self) -> bool:
        """Whether any token exists: then every route needs one."""
        if self._configured:
            return True
        if self._backend is None or self._now is None:
            return False
        checked = self._any_stored
        if checked is None or time.monotonic() - checked[0] > CACHE_SECONDS:
            checked = (time.monotonic(), bool(await self._backend.token_list()))
            self._any_stored = checked
        return checked[1]

    async def resolve(self, secret: str) -> Principal | None:
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return None
        hashed = digest(secret)
        found = None
        for record in self._configured:  # every one compared: no early exit to time
            if same_digest(record.digest, hashed):
                found = record.principal
        if found is not None or self._backend is None or self._now is None:
            return found
        cached = self._cache.get(hashed)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        principal = await self._stored(hashed)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[hashed] = (time.monotonic(), principal)
        return principal

    async def _stored(self, hashed: str) -> Principal | None:
        assert self._backend is not None and self._now is not None
        record = await self._backend.token_get(hashed)
        now = self._now()
        if record is None or not record.live(now):
            return None
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
            await self._backend.token_touch(record.name, now=now)
        return record.principal


def load_file(path: Path, created: datetime) -> list[TokenRecord]:
    """Read a tokens file; any mistake is one error that names the entry and the fix."""
    try:
        entries: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"ROTA_TOKENS_FILE {path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise ValidationError(f"ROTA_TOKENS_FILE {path}: expected a JSON list of tokens")
    records = []
    for n, entry in enumerate(entries):
        where = f"ROTA_TOKENS_FILE {path}, entry {n}"
        if not isinstance(entry, dict) or set(entry) - {"name", "role", "tenant", "secret",
                                                        "sha256"}:  # fmt: skip
            raise ValidationError(f"{where}: use the keys name, role, tenant, secret or sha256")
        secret, hashed = entry.get("secret"), entry.get("sha256")
        if (secret is None) == (hashed is None):
            raise ValidationError(f"{where}: give exactly one of secret and sha256")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise ValidationError(f"{where}: a secret must be a string of 16 characters or more")
        if hashed is not None and (not isinstance(hashed, str) or len(hashed) != 64):
            raise ValidationError(f"{where}: sha256 must be 64 hex digits, not {quote(hashed)}")
        name = check_name(str(entry.get("name", "")), "token name")
        role = parse_role(str(entry.get("role", "")))
        tenant = entry.get("tenant")
        if tenant is not None:
            tenant = check_name(str(tenant), "tenant")
        check_binding(role, tenant)
        kept = digest(secret) if secret is not None else str(hashed).lower()
        records.append(TokenRecord(name, kept, role, tenant, created))
    return records


#: the longest a token made by rota may live: ten years of seconds
MAX_EXPIRES_IN = 10 * 365 * 86400.0


class StoredTokens:
    """Making, listing and revoking the store's tokens: what `rota token` and the admin
    routes do, in one place."""

    def __init__(self, backend: Backend, now: Callable[[], datetime]) -> None:
        self._backend = backend
        self._now = now

    async def create(
        self,
        *,
        role: str,
        name: str | None = None,
        tenant: str | None = None,
        expires_in: float | None = None,
    ) -> tuple[TokenRecord, str]:
        """Store a new token; the record and its secret (shown once, never stored)."""
        kind = parse_role(role)
        if tenant is not None:
            check_name(tenant, "tenant")
        check_binding(kind, tenant)
        if expires_in is not None and not 0 < expires_in <= MAX_EXPIRES_IN:
            raise ValidationError("expires_in must be between 0 and ten years of seconds")
        if name is None:
            taken = {t.name for t in await self._backend.token_list()}
            names = (f"{kind.value}-{n}" for n in itertools.count(1))
            name = next(candidate for candidate in names if candidate not in taken)
        check_name(name, "token name")
        secret = new_secret()
        now = self._now()
        expires = None if expires_in is None else now + timedelta(seconds=expires_in)
        record = TokenRecord(name, digest(secret), kind, tenant, now, expires_at=expires)
        if not await self._backend.token_insert(record):
            raise Conflict(f"a token named {name!r} exists already: pick another name")
        return record, secret

    async def all(self) -> list[TokenRecord]:
        return await self._backend.token_list()

    async def revoke(self, name: str) -> TokenRecord:
        if not await self._backend.token_revoke(name, now=self._now()):
            raise NotFound(f"no live token named {name!r}")
        (record,) = [t for t in await self._backend.token_list() if t.name == name]
        return record
