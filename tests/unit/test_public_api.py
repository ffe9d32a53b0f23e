"""The public surface is exactly what ``rota.__all__`` lists, and every name resolves."""

from __future__ import annotations

import rota


def test_all_names_resolve_and_are_unique() -> None:
    assert len(rota.__all__) == len(set(rota.__all__))
    for name in rota.__all__:
        assert getattr(rota, name) is not None, name


def test_every_public_attribute_is_listed() -> None:
    for name in rota.__all__:  # the names load on first use
        getattr(rota, name)
    public = {
        name
        for name, value in vars(rota).items()
        if not name.startswith("_")
        and not isinstance(value, type(rota))
        and name not in ("annotations", "TYPE_CHECKING", "Any")  # the module's own imports
    }
    assert public == set(rota.__all__) - {"__version__"}


def test_errors_share_one_root() -> None:
    errors = [getattr(rota, n) for n in rota.__all__ if n.endswith(("Error", "Found"))]
    errors += [rota.Conflict, rota.DuplicateTask, rota.StaleLease, rota.PayloadTooLarge]
    assert errors
    assert all(issubclass(e, rota.RotaError) for e in errors)
