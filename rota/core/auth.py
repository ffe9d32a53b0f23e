"""Who is calling: roles, principals and API tokens, as values (no HTTP, no store).

A token carries one role; ``operator`` may do everything. A token may be bound to a tenant:
then everything it sees and touches is that tenant's (``rota.service.scope``). Secrets are
random (``new_secret``) and kept only as their SHA-256 digest, which is safe for secrets of
256 random bits: nothing is gained by guessing a preimage that cannot be enumerated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rota.core.errors import ValidationError
from rota.core.ids import quote
from rota.core.priority import NAMED_PRIORITIES


class Role(StrEnum):
    PRODUCER = "producer"  # submit; read and cancel the tasks in its scope
    WORKER = "worker"  # register, claim, heartbeat and report
    VIEWER = "viewer"  # read everything in its scope, metrics included
    OPERATOR = "operator"  # everything, admin included


#: roles that may be bound to a tenant (workers and operators act across tenants)
TENANT_ROLES = frozenset({Role.PRODUCER, Role.VIEWER})

#: the prefix of every secret rota makes, so a leaked one is recognisable in a scan
SECRET_PREFIX = "rota_"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, resolved once from its token."""

    name: str
    role: Role
    tenant: str | None = None
    #: how history names what this caller changed: ``token:<name>`` unless given
    actor: str = ""
    #: the highest priority this caller may submit at (None: any)
    max_priority: int | None = None

    def __post_init__(self) -> None:
        if not self.actor:
            object.__setattr__(self, "actor", f"token:{self.name}")

    def has(self, role: Role) -> bool:
        return self.role is Role.OPERATOR or self.role is role


#: task kinds whose handler runs what the payload says on the worker's host (the built-in
#: ``shell``, enabled by ``rota worker --allow-shell``): only an operator may submit them
OPERATOR_KINDS = frozenset({"shell"})

#: the caller when no token is configured and the server listens on loopback only
OPEN = Principal("open", Role.OPERATOR, actor="api")
#: a caller with no token where ``ROTA_ANONYMOUS_SUBMIT`` lets it submit (DMS's rule)
ANONYMOUS_PRODUCER = Principal(
    "anonymous", Role.PRODUCER, actor="anonymous", max_priority=NAMED_PRIORITIES["low"]
)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token: its digest, never the secret."""

    name: str
    digest: str
    role: Role
    tenant: str | None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @property
    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.tenant)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison, so response times say nothing about a near miss."""
    return hmac.compare_digest(a.encode(), b.encode())


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValidationError(f"role {quote(value)} is unknown: use one of {names}") from None


def check_binding(role: Role, tenant: str | None) -> None:
    if tenant is not None and role not in TENANT_ROLES:
        raise ValidationError(
            f"a {role.value} token cannot be bound to a tenant: only "
            + " and ".join(sorted(r.value for r in TENANT_ROLES))
            + " tokens can"
        )
