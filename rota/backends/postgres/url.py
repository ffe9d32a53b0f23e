"""The database URL: libpq's, plus rota's own parameters.

``?schema=NAME`` (default ``rota``) names the schema of rota's tables; ``?durable_claims=true``
makes every claim wait for its commit to be flushed (docs/postgres.md, "Durability").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from rota.core.errors import ValidationError

# At most 58 characters: the wake-up channel is "rota_" and the name, and PostgreSQL cuts
# identifiers (channel names included) at 63.
MAX_SCHEMA = 58
_SCHEMA = re.compile(rf"[a-z_][a-z0-9_]{{0,{MAX_SCHEMA - 1}}}")
_BOOLEANS = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}


@dataclass(frozen=True, slots=True)
class PgUrl:
    conninfo: str  # what psycopg connects with
    schema: str
    durable_claims: bool = False

    @property
    def sqlalchemy(self) -> str:
        return "postgresql+psycopg://" + self.conninfo.split("://", 1)[1]

    @classmethod
    def parse(cls, url: str) -> PgUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValidationError(f"not a PostgreSQL URL: {url!r}")
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", "rota")
        if not _SCHEMA.fullmatch(schema):
            raise ValidationError(
                f"schema {schema!r} is invalid: use 1..{MAX_SCHEMA} lower-case letters, "
                "digits and '_', not starting with a digit"
            )
        durable = query.pop("durable_claims", "false").lower()
        if durable not in _BOOLEANS:
            raise ValidationError(f"durable_claims={durable!r} is invalid: use true or false")
        rest = urlunsplit(
            ("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), "")
        )
        return cls(conninfo=rest, schema=schema, durable_claims=_BOOLEANS[durable])
