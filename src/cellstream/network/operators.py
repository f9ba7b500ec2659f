"""Countries and mobile network operators, as emnify's network events and lookups present them.

A device roams onto a *visited network*: an operator identified by its PLMN, i.e. MCC (mobile country
code, ITU-T E.212) + MNC (mobile network code, assigned nationally, 2 or 3 digits, "01" != "001"), and
for roaming settlement by its TADIG (TAP) code, a GSMA-assigned 5-character code whose first three
letters are normally the country's ISO 3166-1 alpha-3 code. Update location / Update GPRS location
events carry that operator in `detail` (`Operator.event_detail()`); `/api/v1/operator` lists it
(`Operator.as_json()`); PDP-context events and organisations embed the country (`Country.as_json()`).

Where the values come from: the public MCC/MNC assignments (ITU-T E.212 and the national regulators, as
collected in the Wikipedia "Mobile Network Codes" lists and mcc-mnc.com), the TADIG codes operators
publish in roaming-partner and IoT tariff lists, and ISO 3166-1 / ITU-T E.164 for country codes. Each
PLMN and TADIG code was cross-checked against at least two public lists, or one list plus the operator
history that explains it (noted beside the row in `operator_data`); doubtful values were left out
rather than guessed. Latitude and longitude are the coarse country reference points of the CIA World
Factbook, which emnify's `/api/v1/operator` example also shows (Afghanistan "33.000000", "65.000000").

Why the ids are Cellstream's own: emnify numbers operators, countries, MNC and TADIG entries in its
own database and publishes no list of those ids, so a re-implementation cannot know them. Cellstream
assigns small stable integers instead (never renumbered, since stored events keep them):
- countries: the ISO 3166-1 numeric code; extra rows for a country's second MCC get 1000 + MCC;
- operators, MNC and TADIG entries: sequence numbers from the table, starting at 10;
- except where emnify's documented examples show its ids — Germany (74), Vodafone (3, its MNC "02"
  entry 3 and DEUD2 entry 2, in the network-event examples), Telefonica O2 (5, usage records) and
  Telekom (1, MNC and DEUD1 entries 1, operator-blacklist example) — kept so those examples match.

Countries with several MCCs (USA 310-316, India 404-406, ...) follow emnify's model: the operator
object has no MCC of its own, only `country.mcc` plus a list of MNCs, so each extra MCC is its own
country row (emnify's `/api/v1/country` documents such rows, "India MCC 405" and "United States
(311)", which `geographic=true` drops) and an operator on that MCC belongs to that row. Hence every
operator's PLMNs are `(country.mcc, mnc)`.

This module is pure data and the standard library: the event core, the simulator and the API adapters
may all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cellstream.network import operator_data

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Country:
    """A country as one MCC sees it; a country with several MCCs has one `Country` per MCC."""

    id: int
    name: str
    iso_code: str  # ISO 3166-1 alpha-2, lower case ("de"), as emnify writes it
    mcc: str  # "262"
    country_code: str  # E.164 calling code without "+" ("49")
    latitude: float | None = None
    longitude: float | None = None
    # False for the rows of a country's extra MCCs, which `/api/v1/country?geographic=true` leaves out
    geographic: bool = True

    def as_json(self) -> Json:
        """The country object of event `detail`, organisations and `/api/v1/country` items."""
        return {
            "id": self.id,
            "name": self.name,
            "country_code": self.country_code,
            "mcc": self.mcc,
            "iso_code": self.iso_code,
        }


@dataclass(frozen=True, slots=True)
class Operator:
    """A mobile network operator: its PLMNs are `(country.mcc, mnc)` for each of `mncs`."""

    id: int
    name: str
    country: Country
    mncs: tuple[str, ...]
    tapcodes: tuple[str, ...]
    # emnify gives every MNC and TADIG entry an id of its own; these run parallel to mncs / tapcodes
    mnc_ids: tuple[int, ...]
    tapcode_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        # A silent zip() over mismatched tuples would drop entries from every event built from this
        if len(self.mnc_ids) != len(self.mncs) or len(self.tapcode_ids) != len(self.tapcodes):
            raise ValueError(f"operator {self.id}: each MNC and TADIG code needs exactly one entry id")

    @property
    def plmns(self) -> tuple[tuple[str, str], ...]:
        return tuple((self.country.mcc, mnc) for mnc in self.mncs)

    @property
    def name_and_country(self) -> str:
        return f"{self.country.name} / {self.name}"

    def event_detail(self) -> Json:
        """`detail` of Update location (1) and Update GPRS location (2) events."""
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country.as_json(),
            "tapcode": [
                {"id": i, "tapcode": t} for i, t in zip(self.tapcode_ids, self.tapcodes, strict=True)
            ],
            "mnc": [{"id": i, "mnc": m} for i, m in zip(self.mnc_ids, self.mncs, strict=True)],
        }

    def as_json(self) -> Json:
        """An item of `GET /api/v1/operator`, keys in the order of emnify's example."""
        country = self.country
        operator_id = str(self.id)  # emnify writes the back-reference as a string here
        return {
            "name": self.name,
            "country_name": country.name,
            "id": self.id,
            "country": {
                "name": country.name,
                "country_code": country.country_code,
                "mcc": country.mcc,
                "iso_code": country.iso_code,
                "latitude": _coordinate(country.latitude),
                "longitude": _coordinate(country.longitude),
                "id": country.id,
            },
            "mnc": [
                {"mnc": m, "operator_id": operator_id, "id": i}
                for i, m in zip(self.mnc_ids, self.mncs, strict=True)
            ],
            "tapcode": [
                {"tapcode": t, "operator_id": operator_id, "id": i}
                for i, t in zip(self.tapcode_ids, self.tapcodes, strict=True)
            ],
            "name_and_country": self.name_and_country,
        }


def _coordinate(value: float | None) -> str | None:
    # emnify renders coordinates as fixed six-decimal strings ("33.000000"), not as JSON numbers
    return None if value is None else f"{value:.6f}"


def _build() -> tuple[tuple[Country, ...], tuple[Operator, ...]]:
    countries = tuple(
        Country(id=cid, name=name, iso_code=iso, mcc=mcc, country_code=cc,
                latitude=lat, longitude=lng, geographic=geo)
        for cid, name, iso, mcc, cc, lat, lng, geo in operator_data.COUNTRIES
    )
    by_mcc = {c.mcc: c for c in countries}
    operators = tuple(
        Operator(
            id=oid,
            name=name,
            country=by_mcc[mcc],
            mncs=tuple(m for _, m in mncs),
            tapcodes=tuple(t for _, t in taps),
            mnc_ids=tuple(i for i, _ in mncs),
            tapcode_ids=tuple(i for i, _ in taps),
        )
        for oid, name, mcc, mncs, taps in operator_data.OPERATORS
    )
    return countries, operators


_COUNTRIES, _OPERATORS = _build()
_COUNTRY_BY_MCC = {c.mcc: c for c in _COUNTRIES}
_OPERATOR_BY_ID = {o.id: o for o in _OPERATORS}
_OPERATOR_BY_PLMN = {plmn: o for o in _OPERATORS for plmn in o.plmns}
_OPERATOR_BY_TADIG = {t: o for o in _OPERATORS for t in o.tapcodes}


def countries(*, geographic: bool = False) -> tuple[Country, ...]:
    """All country rows; `geographic=True` keeps one row per country (drops extra-MCC rows)."""
    if geographic:
        return tuple(c for c in _COUNTRIES if c.geographic)
    return _COUNTRIES


def operators() -> tuple[Operator, ...]:
    return _OPERATORS


def country_by_mcc(mcc: str) -> Country | None:
    return _COUNTRY_BY_MCC.get(mcc)


def operator_by_id(id: int) -> Operator | None:
    return _OPERATOR_BY_ID.get(id)


def operator_by_plmn(mcc: str, mnc: str) -> Operator | None:
    """Exact string match: MNC "02" and "002" are different networks under E.212."""
    return _OPERATOR_BY_PLMN.get((mcc, mnc))


def operator_by_tadig(code: str) -> Operator | None:
    """TADIG codes are upper case; a lower-case spelling (from a query string, say) finds the same."""
    if not isinstance(code, str):
        return None
    return _OPERATOR_BY_TADIG.get(code.upper())
