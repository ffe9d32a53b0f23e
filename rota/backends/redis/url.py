"""The store URL: redis-py's, plus rota's own parameters.

``redis://HOST:PORT/DB`` or ``rediss://...``, with ``?prefix=NAME`` (default ``rota``: every
key lives under ``{NAME}:``) and ``?reader=URL`` (a replica endpoint for reads that may lag;
URL-encoded). Without ``reader``, the reader comes from ``ROTA_REDIS_READER_URL``, else from
DMS's ``REDIS_READER_URL``. A URL with no host at all (``redis://``) takes the writer from
DMS's ``REDIS_WRITER_URL`` when it is set. Every other query parameter goes to redis-py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from rota.core.errors import ValidationError

SCHEMES = ("redis", "rediss")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True, slots=True)
class RedisUrl:
    writer: str
    reader: str | None
    prefix: str

    @classmethod
    def parse(cls, url: str, env: Mapping[str, str] | None = None) -> RedisUrl:
        env = os.environ if env is None else env
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValidationError(f"not a Redis URL: {url!r} (use redis:// or rediss://)")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        prefix = query.pop("prefix", "rota")
        if not _NAME.fullmatch(prefix):
            raise ValidationError(
                f"prefix {prefix!r} is invalid: use 1..64 letters, digits, '_', '.' or '-'"
            )
        reader = (
            query.pop("reader", None)
            or env.get("ROTA_REDIS_READER_URL")
            or env.get("REDIS_READER_URL")
            or None
        )
        rest = urlencode(query, quote_via=quote)
        writer = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
        if not parts.netloc and env.get("REDIS_WRITER_URL"):
            writer = env["REDIS_WRITER_URL"]
        for endpoint in (writer, reader):
            if endpoint is not None and urlsplit(endpoint).scheme not in SCHEMES:
                raise ValidationError(f"not a Redis URL: {endpoint!r}")
        return cls(writer=writer, reader=reader, prefix=prefix)
