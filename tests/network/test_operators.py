"""The operator and country reference table: its invariants, its lookups, and the JSON shapes emnify
documents for the operator object (network events, `/api/v1/operator`) and the country object."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cellstream.network.operators import (
    Country,
    Operator,
    countries,
    country_by_mcc,
    operator_by_id,
    operator_by_plmn,
    operator_by_tadig,
    operators,
)
from tests.conftest import need_fixtures

# Kept here, independent of the table, so a TADIG code with a mistyped country prefix is caught
ISO_ALPHA3 = {
    "ae": "ARE", "at": "AUT", "au": "AUS", "be": "BEL", "br": "BRA", "ca": "CAN", "ch": "CHE",
    "cz": "CZE", "de": "DEU", "dk": "DNK", "es": "ESP", "fi": "FIN", "fr": "FRA", "gb": "GBR",
    "ie": "IRL", "in": "IND", "it": "ITA", "jp": "JPN", "kr": "KOR", "mx": "MEX", "nl": "NLD",
    "no": "NOR", "pl": "POL", "pt": "PRT", "se": "SWE", "tr": "TUR", "us": "USA", "za": "ZAF",
}

# Values a reader can check against public lists without our table (brief and emnify examples)
KNOWN = [
    ("262", "01", "DEUD1", "de"),
    ("262", "02", "DEUD2", "de"),
    ("262", "07", "DEUE2", "de"),
    ("234", "30", "GBRME", "gb"),
    ("234", "15", "GBRVF", "gb"),
    ("208", "01", "FRAF1", "fr"),
    ("208", "10", "FRAF2", "fr"),
    ("310", "410", "USACG", "us"),
    ("310", "260", "USAW6", "us"),
    ("311", "480", "USAVZ", "us"),
]


def load(name: str) -> Any:
    return json.loads((need_fixtures() / name).read_text())


def assert_same_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """Same keys in the same order and the same JSON types, recursively (list items against the first)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert list(actual) == list(expected), path
        for key, value in expected.items():
            assert_same_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), path
        if expected:
            for i, item in enumerate(actual):
                assert_same_shape(item, expected[0], f"{path}[{i}]")
    else:
        assert type(actual) is type(expected), f"{path}: {type(actual).__name__} vs {type(expected).__name__}"


# Table invariants -----------------------------------------------------------------------------------


def test_table_is_large_enough() -> None:
    assert len(operators()) >= 45
    assert len({c.iso_code for c in countries()}) >= 25


def test_required_markets_are_present() -> None:
    present = {o.country.iso_code for o in operators()}
    wanted = {"de", "gb", "fr", "es", "it", "nl", "be", "at", "ch", "pl", "se", "no", "dk", "fi", "ie",
              "pt", "cz", "us", "ca", "mx", "br", "jp", "kr", "au", "in", "za", "tr", "ae"}
    assert wanted <= present


def test_ids_are_unique() -> None:
    def dupes(values: list[int]) -> list[int]:
        return [v for v, n in Counter(values).items() if n > 1]

    assert dupes([o.id for o in operators()]) == []
    assert dupes([c.id for c in countries()]) == []
    # Entry ids identify rows of emnify's MNC and TADIG tables, so they are unique across operators
    assert dupes([i for o in operators() for i in o.mnc_ids]) == []
    assert dupes([i for o in operators() for i in o.tapcode_ids]) == []


def test_plmns_and_tadig_codes_belong_to_one_operator() -> None:
    plmns = [p for o in operators() for p in o.plmns]
    tadigs = [t for o in operators() for t in o.tapcodes]
    assert len(plmns) == len(set(plmns))
    assert len(tadigs) == len(set(tadigs))


@pytest.mark.parametrize("country", countries(), ids=lambda c: c.name)
def test_country_codes_are_well_formed(country: Country) -> None:
    assert re.fullmatch(r"[a-z]{2}", country.iso_code)
    assert re.fullmatch(r"[2-7]\d\d", country.mcc)  # 0, 1, 8, 9 are test/unused/shared ranges
    assert re.fullmatch(r"[1-9]\d{0,2}", country.country_code)
    assert country.latitude is not None
    assert -90 <= country.latitude <= 90
    assert country.longitude is not None
    assert -180 <= country.longitude <= 180
    assert country_by_mcc(country.mcc) is country


@pytest.mark.parametrize("op", operators(), ids=lambda o: f"{o.id}-{o.name_and_country}")
def test_operator_codes_are_well_formed(op: Operator) -> None:
    assert op.name.strip() == op.name != ""
    assert op.mncs, "an operator without an MNC cannot be attached to"
    assert op.tapcodes, "every operator in the table has a TADIG code"
    for mnc in op.mncs:
        assert re.fullmatch(r"\d{2,3}", mnc)
    for code in op.tapcodes:
        assert re.fullmatch(r"[A-Z]{3}[A-Z0-9]{2}", code)
        assert code[:3] == ISO_ALPHA3[op.country.iso_code]
    # An operator's PLMNs are built on its country row's MCC, whichever MCC of the country that is
    assert all(mcc == op.country.mcc for mcc, _ in op.plmns)
    assert country_by_mcc(op.country.mcc) is op.country
    # Countries with one MCC per market use 2-digit MNCs, North America 3 (India's 405 mixes both)
    if op.country.mcc in {"302", "310", "311", "334"}:
        assert all(len(m) == 3 for m in op.mncs)


def test_a_country_with_several_mccs_has_one_geographic_row() -> None:
    by_iso: dict[str, list[Country]] = {}
    for c in countries():
        by_iso.setdefault(c.iso_code, []).append(c)
    for iso, rows in by_iso.items():
        assert sum(r.geographic for r in rows) == 1, iso
        assert len({r.mcc for r in rows}) == len(rows), iso
        assert len({(r.country_code, r.latitude, r.longitude) for r in rows}) == 1, iso
    assert {c.mcc for c in countries() if c.iso_code == "us"} == {"310", "311"}
    assert {c.mcc for c in countries() if c.iso_code == "in"} == {"404", "405"}
    assert [c.iso_code for c in countries(geographic=True)].count("us") == 1


def test_multi_mcc_operators_hang_off_their_mcc_row() -> None:
    verizon = operator_by_plmn("311", "480")
    assert verizon is not None
    assert verizon.country.mcc == "311"
    assert verizon.country.iso_code == "us"
    assert not verizon.country.geographic
    # 310 480 is a different (regional) US network: the MCC is part of the identity
    assert operator_by_plmn("310", "480") is None
    jio = operator_by_plmn("405", "872")
    assert jio is not None
    assert jio.country.iso_code == "in"
    assert jio.country.mcc == "405"


# Lookups ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", operators(), ids=lambda o: f"{o.id}-{o.name_and_country}")
def test_lookups_round_trip(op: Operator) -> None:
    assert operator_by_id(op.id) is op
    for mcc, mnc in op.plmns:
        assert operator_by_plmn(mcc, mnc) is op
    for code in op.tapcodes:
        assert operator_by_tadig(code) is op
        assert operator_by_tadig(code.lower()) is op


@pytest.mark.parametrize(("mcc", "mnc", "tadig", "iso"), KNOWN)
def test_known_assignments(mcc: str, mnc: str, tadig: str, iso: str) -> None:
    op = operator_by_plmn(mcc, mnc)
    assert op is not None
    assert op is operator_by_tadig(tadig)
    assert op.country.iso_code == iso


def test_telefonica_o2_germany_holds_the_former_e_plus_network() -> None:
    o2 = operator_by_plmn("262", "03")
    assert o2 is not None
    assert o2 is operator_by_plmn("262", "07")
    assert set(o2.mncs) >= {"03", "07"}
    assert "DEUE2" in o2.tapcodes


def test_mnc_is_compared_as_registered() -> None:
    assert operator_by_plmn("262", "02") is not None
    assert operator_by_plmn("262", "2") is None
    assert operator_by_plmn("262", "002") is None
    assert operator_by_plmn("334", "020") is not None
    assert operator_by_plmn("334", "20") is None


def test_unknown_values_give_none() -> None:
    assert operator_by_id(0) is None
    assert operator_by_id(10**9) is None
    assert operator_by_plmn("999", "99") is None
    assert operator_by_plmn("", "") is None
    assert operator_by_tadig("XXXXX") is None
    assert operator_by_tadig("") is None
    assert operator_by_tadig(None) is None  # type: ignore[arg-type]
    assert country_by_mcc("001") is None
    assert country_by_mcc("") is None


def test_operator_rejects_entry_ids_that_do_not_line_up() -> None:
    country = countries()[0]
    with pytest.raises(ValueError, match="entry id"):
        Operator(1, "x", country, ("01", "02"), ("AAAAA",), (1,), (1,))


def test_module_stays_free_of_adapters() -> None:
    # In a fresh interpreter: this test process has long since imported the API and the store
    code = (
        "import sys, cellstream.network.operators\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'fastapi', 'sqlalchemy', 'starlette', "
        "'pydantic'} or m.startswith(('cellstream.store', 'cellstream.api'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# JSON shapes against emnify's documented examples ---------------------------------------------------


@pytest.mark.parametrize("name", ["event-1-update-location-1.json", "event-2-update-gprs-location-1.json"])
def test_event_detail_matches_the_network_event_examples(name: str) -> None:
    detail = load(name)["detail"]
    # The examples are Vodafone Germany; its ids are emnify's, so the detail is reproduced exactly
    vodafone = operator_by_plmn("262", "02")
    assert vodafone is not None
    assert vodafone.event_detail() == detail
    assert list(vodafone.event_detail()) == list(detail)
    for op in operators():
        assert_same_shape(op.event_detail(), detail)


def test_event_detail_lists_every_mnc_and_tadig() -> None:
    o2 = operator_by_plmn("262", "07")
    assert o2 is not None
    detail = o2.event_detail()
    assert [m["mnc"] for m in detail["mnc"]] == list(o2.mncs)
    assert [t["tapcode"] for t in detail["tapcode"]] == list(o2.tapcodes)


def test_operator_list_item_matches_the_api_example() -> None:
    example = load("operator-list.json")
    for op in operators():
        assert_same_shape(op.as_json(), example[0])
        item = op.as_json()
        assert item["name_and_country"] == f"{op.country.name} / {op.name}"
        assert {m["operator_id"] for m in item["mnc"]} == {str(op.id)}
    # emnify's coordinates are six-decimal strings; the example's Afghanistan reads "33.000000"
    germany = operator_by_plmn("262", "01")
    assert germany is not None
    assert (germany.as_json()["country"]["latitude"], germany.as_json()["country"]["longitude"]) == (
        "51.000000", "9.000000")


def test_country_object_matches_the_organisation_example() -> None:
    country = load("organisation-my.json")["country"]
    germany = country_by_mcc("262")
    assert germany is not None
    assert germany.as_json() == country
    assert list(germany.as_json()) == list(country)
    for c in countries():
        assert_same_shape(c.as_json(), country)


def test_country_object_has_the_keys_of_the_pdp_context_examples() -> None:
    for name in ["event-3-create-pdp-context-1.json", "event-5-delete-pdp-context-1.json"]:
        detail = load(name)["detail"]
        assert set(country_by_mcc("262").as_json()) == set(detail["country"])  # type: ignore[union-attr]
        # The operator named in the PDP event is the one its PLMN resolves to
        op = operator_by_plmn(detail["pdp_context"]["mcc"], detail["pdp_context"]["mnc"])
        assert op is not None
        assert (op.id, op.name) == (detail["id"], detail["name"])


def test_usage_record_operator_is_consistent() -> None:
    paths = sorted(Path(need_fixtures()).glob("usage-*.json"))
    assert paths
    for path in paths:
        operator = json.loads(path.read_text())[0]["operator"]
        op = operator_by_id(operator["id"])
        assert op is not None
        assert op.name == operator["name"]
        assert operator["mnc"] in op.mncs
        assert op.country.id == operator["country"]["id"]
        assert op.country.mcc == operator["country"]["mcc"]
