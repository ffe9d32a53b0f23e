"""The KAT router's translations that need no server: the identity hash, the payload
checks, the flags and conflict rules, and the pop filters."""

from __future__ import annotations

import hashlib

import pytest

from rota.api.compat.kat import filters
from rota.api.compat.kat.items import Malformed, identity, identity_hash, validated
from rota.api.compat.kat.schedulers import FLAGS_OF, rule_of


def test_the_identity_is_mulas_string_and_the_hash_32_hex() -> None:
    payload = {"boefje": {"id": "dns"}, "input_ooi": "Hostname|a", "organization": "org1"}
    assert identity("boefje", payload) == "Hostname|a-dns-org1"
    assert identity("boefje", {**payload, "input_ooi": None}) == "None-dns-org1"
    digest = hashlib.blake2b(b"Hostname|a-dns-org1", digest_size=16).hexdigest()
    assert identity_hash("boefje", payload) == digest and len(digest) == 32
    meta = {"id": "m1", "organization": "org1"}
    normalizer = {"normalizer": {"id": "n"}, "raw_data": {"boefje_meta": meta}}
    assert identity("normalizer", normalizer) == "n-m1-org1"


def test_validated_drops_what_mula_drops_and_makes_an_id() -> None:
    data = {"boefje": {"id": "dns"}, "input_ooi": "x", "organization": "o", "type": "boefje"}
    task_id, payload = validated("boefje", data)
    assert len(task_id) == 36 and "type" not in payload and "id" not in payload
    assert payload == {"boefje": {"id": "dns", "name": None, "version": None},
                       "input_ooi": "x", "organization": "o", "dispatches": []}  # fmt: skip
    given = "6f1c2f0e-8a1b-4c55-9c1e-2f3a4b5c6d7e"
    assert validated("boefje", {**data, "id": given})[0] == given
    for bad in ({"input_ooi": "x", "organization": "o"}, {**data, "id": "not-a-uuid"}, []):
        with pytest.raises(Malformed):
            validated("boefje", bad)


def test_flags_map_onto_on_conflict_and_back() -> None:
    assert rule_of((False, False, True)) == "update_priority"  # mula's default
    assert rule_of((False, True, True)) == rule_of((False, True, False)) == "update"
    assert rule_of((True, False, False)) == "replace"
    assert rule_of((False, False, False)) == "reject"
    for rule in ("update_priority", "update", "replace", "reject"):
        assert rule_of(FLAGS_OF[rule]) == rule


def test_pop_filters() -> None:
    data = {"boefje": {"id": "dns"}, "input_ooi": "Hostname|a"}
    eq = filters.parse({"filters": [{"column": "data", "field": "boefje__id",
                                     "operator": "==", "value": "dns"}]})  # fmt: skip
    assert eq is not None and eq(data)
    other = {
        "column": "p_item",
        "field": "data__input_ooi",
        "operator": "!=",
        "value": "Hostname|a",
    }
    ne = filters.parse({"filters": {"or": [other]}})
    assert ne is not None and not ne(data)
    within = filters.parse({"filters": [{"column": "data", "field": "input_ooi",
                                         "operator": "in", "value": ["Hostname|a"]}]})  # fmt: skip
    assert within is not None and within(data)
    assert filters.parse(None) is None and filters.parse({"filters": []}) is None
    for bad in ({"filters": [{"column": "priority", "operator": "==", "value": 1}]},
                {"filters": [{"column": "data", "field": "x", "operator": "like", "value": 1}]},
                {"filters": [{"column": "data", "field": "x", "operator": "in", "value": 1}]},
                {"other": 1}, [1]):  # fmt: skip
        with pytest.raises(filters.BadFilter):
            filters.parse(bad)
