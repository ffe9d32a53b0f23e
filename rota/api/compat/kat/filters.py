"""mula's filter body (``{"filters": [...]}`` or ``{"filters": {"and"|"or"|"not": [...]}}``)
on a task's ``data``: the operators ``==``/``eq``, ``!=``/``ne``, ``in`` and ``not_in``,
checked in Python against the items the router has already read. Anything else is a 400
that says what is supported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

EQ = ("==", "eq")
NE = ("!=", "ne")
IN = ("in", "in_")
NOT_IN = ("not_in", "notin_")
SUPPORTED = "==, eq, !=, ne, in, not_in"
_MISSING = object()


class BadFilter(ValueError):
    pass


def parse(body: Any) -> Predicate | None:
    """A predicate on an item's ``data`` (None: no filter asked)."""
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"filters"}:
        raise BadFilter('the body must be {"filters": [...]}')
    filters = body.get("filters")
    if filters is None or filters == [] or filters == {}:
        return None
    if isinstance(filters, list):
        filters = {"and": filters}
    if not isinstance(filters, dict) or set(filters) - {"and", "or", "not"}:
        raise BadFilter('filters must be a list or an object of "and", "or", "not" lists')
    parts: list[Predicate] = []
    for combine, listed in filters.items():
        if not isinstance(listed, list) or not listed:
            raise BadFilter(f"filters.{combine} must be a non-empty list")
        parts.append(_combined(combine, [_one(f) for f in listed]))
    return lambda data: all(p(data) for p in parts)


def _combined(combine: str, preds: list[Predicate]) -> Predicate:
    if combine == "and":
        return lambda d: all(p(d) for p in preds)
    if combine == "or":
        return lambda d: any(p(d) for p in preds)
    return lambda d: not all(p(d) for p in preds)


def _path(spec: dict[str, Any]) -> list[str]:
    """The path inside ``data``: column ``data`` (or ``p_item``) with ``field``
    ``boefje__id`` or ``data__boefje__id``."""
    column, field = spec.get("column"), spec.get("field")
    if not isinstance(column, str) or not isinstance(field, str | None):
        raise BadFilter("a filter needs a column (and a field inside it)")
    if column not in ("data", "p_item") or not field:
        raise BadFilter(
            f"filter on column {column!r}: rota filters only on fields of data "
            '(column "data" with field "boefje__id", say)'
        )
    parts = field.split("__")
    if parts[0] == "data":
        parts = parts[1:]
    elif column == "p_item":
        raise BadFilter('a filter on p_item names a field under data: "data__boefje__id"')
    if not parts or not all(parts):
        raise BadFilter(f"filter field {field!r} names no field")
    return parts


def _one(spec: Any) -> Predicate:
    if not isinstance(spec, dict):
        raise BadFilter("each filter is an object {column, field, operator, value}")
    path = _path(spec)
    operator = spec.get("operator", "==")
    value = spec.get("value")
    listed: list[Any] = value if isinstance(value, list) else []
    if operator in IN + NOT_IN:
        if not isinstance(value, list) or not value:
            raise BadFilter(f"operator {operator!r} needs a non-empty list value")
    elif operator not in EQ + NE:
        raise BadFilter(f"filter operator {operator!r} is not supported; use {SUPPORTED}")

    def get(data: dict[str, Any]) -> Any:
        here: Any = data
        for part in path:
            if not isinstance(here, dict):
                return _MISSING
            here = here.get(part, _MISSING)
        return here

    if operator in EQ:
        return lambda d: _same(get(d), value)
    if operator in NE:
        return lambda d: not _same(get(d), value)
    if operator in IN:
        return lambda d: any(_same(get(d), v) for v in listed)
    return lambda d: not any(_same(get(d), v) for v in listed)


def _same(found: Any, wanted: Any) -> bool:
    if found is _MISSING:
        return False
    if isinstance(found, str) and not isinstance(wanted, str) and wanted is not None:
        return found == str(wanted)  # mula compares JSON text with ->>
    return bool(found == wanted)
