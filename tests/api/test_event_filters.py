"""Every q field and every sort field through GET /api/v1/event, against predicates written here
independently of the query grammar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Api, event

Doc = dict[str, Any]
ORG = 100
ICCID19 = "8988303000000000001"
ICCID20 = ICCID19 + "7"
START = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


def dataset() -> list[Doc]:
    docs = []
    for i in range(40):
        moment = START + timedelta(hours=i // 2)  # pairs share an instant: ties for the sort tests
        fields: Doc = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "alert": i % 4 == 0,
            "description": f"event {i}: " + ("Quota WARNING" if i % 5 == 0 else "all fine"),
            "event_type": {"id": (1, 2, 3, 5, 6, 61)[i % 6]},
            "event_source": {"id": i % 3},
            "event_severity": {"id": (i // 3) % 3},
            "organisation": {"id": ORG, "name": "Acme Org"},
        }
        if i % 3 == 0:
            fields["user"] = (
                {"id": 10, "name": "Ann Admin", "username": "ann@acme.test"}
                if i % 2
                else {"id": 11, "name": "Bob Observer", "username": "bob@acme.test"}
            )
        if i % 4 != 3:
            k = i % 3
            fields["endpoint"] = {
                "id": 50 + k,
                "name": f"pump-{k}",
                "tags": "north,roof" if i % 2 else "south",
                "ip_address": f"10.0.0.{k + 1}",
                "imei": f"35000000000000{k}",
            }
            fields["sim"] = {"id": 70 + k, "iccid": (ICCID19, ICCID20, "8988303000000000222")[k]}
            fields["imsi"] = {"id": 90 + k, "imsi": f"29505000000000{k}"}
            fields["detail"] = {
                "name": ("Telekom", "Vodafone", "Orange")[k],
                "country": {"name": ("Germany", "Germany", "France")[k]},
                "pdp_context": {"rat_type": (6, 3, 6)[k]},
            }
        docs.append(event(5000 + (i * 17) % 41, ORG, **fields))  # ids in another order than time
    return docs


def ref(doc: Doc, key: str, field: str = "id") -> Any:
    return (doc.get(key) or {}).get(field)


def ts(doc: Doc) -> datetime:
    return datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00"))


def has(text: Any, needle: str) -> bool:
    return isinstance(text, str) and needle.lower() in text.lower()


@pytest.fixture
async def loaded(api: Api) -> tuple[dict[str, str], list[Doc]]:
    docs = dataset()
    assert (await api.ingest(docs)).status_code == 201
    await api.ingest([event(9000 + i, 200) for i in range(5)])  # another organisation's, never seen
    return await api.bearer(ORG), docs


DAY2 = datetime(2026, 1, 2, tzinfo=UTC)
FILTERS: list[tuple[str, Callable[[Doc], bool]]] = [
    ("type:3", lambda d: ref(d, "event_type") == 3),
    ("type:1|2|61", lambda d: ref(d, "event_type") in (1, 2, 61)),
    ("source:2", lambda d: ref(d, "event_source") == 2),
    ("severity:1|2", lambda d: ref(d, "event_severity") in (1, 2)),
    ("alert:true", lambda d: d["alert"]),
    ("alert:FALSE", lambda d: not d["alert"]),
    ("description:quota warning", lambda d: has(d["description"], "quota warning")),
    ("organisation:acme", lambda d: True),
    (f"organisation:{ORG}", lambda d: True),
    ("organisation:other", lambda d: False),
    ("user:ann", lambda d: ref(d, "user") == 10),
    ("user:bob@acme", lambda d: ref(d, "user") == 11),
    ("user:11", lambda d: ref(d, "user") == 11),
    ("endpoint:pump-1", lambda d: ref(d, "endpoint", "name") == "pump-1"),
    ("endpoint:pump-1|PUMP-2", lambda d: ref(d, "endpoint", "name") in ("pump-1", "pump-2")),
    ("tags:roof", lambda d: has(ref(d, "endpoint", "tags"), "roof")),
    ("ip_address:10.0.0.2", lambda d: ref(d, "endpoint", "ip_address") == "10.0.0.2"),
    ("imei:350000000000002", lambda d: ref(d, "endpoint", "imei") == "350000000000002"),
    (f"iccid:{ICCID19}", lambda d: str(ref(d, "sim", "iccid")).startswith(ICCID19)),
    (f"iccid:{ICCID20}", lambda d: ref(d, "sim", "iccid") == ICCID20),
    ("iccid:89883030", lambda d: str(ref(d, "sim", "iccid")).startswith("89883030")),
    (
        f"iccid:{ICCID20}|8988303000000000222",
        lambda d: ref(d, "sim", "iccid") in (ICCID20, "8988303000000000222"),
    ),
    (f"iccid_with_luhn:{ICCID20}", lambda d: ref(d, "sim", "iccid") in (ICCID20, ICCID19)),
    ("imsi:295050000000001", lambda d: ref(d, "imsi", "imsi") == "295050000000001"),
    ("network:telekom", lambda d: ref(d, "detail", "name") == "Telekom"),
    ("network:Orange|vodafone", lambda d: ref(d, "detail", "name") in ("Orange", "Vodafone")),
    (
        "country:germany",
        lambda d: ref(d, "endpoint") is not None and ref(d, "sim") is not None and ref(d, "endpoint") != 52,
    ),
    ("rat:3", lambda d: ref(d, "endpoint") == 51),
    ("timestamp:2026-01-02T10:00:00Z", lambda d: DAY2 <= ts(d) < DAY2 + timedelta(days=1)),
    (
        "from:2026-01-01T23:00:00Z,until:2026-01-02T03:00:00Z",
        lambda d: START + timedelta(hours=3) <= ts(d) <= START + timedelta(hours=7),
    ),
    (
        "from:2026-01-02T01:00:00+01:00,until:2026-01-02T01:00:00Z",
        lambda d: DAY2 <= ts(d) <= DAY2 + timedelta(hours=1),
    ),
    (
        "source:0,severity:0,alert:false",
        lambda d: ref(d, "event_source") == 0 and ref(d, "event_severity") == 0 and not d["alert"],
    ),
    ("", lambda d: True),
]


@pytest.mark.parametrize(("q", "wanted"), FILTERS, ids=[q or "empty" for q, _ in FILTERS])
async def test_q_field_selects_what_its_documentation_says(
    loaded: tuple[dict[str, str], list[Doc]], api: Api, q: str, wanted: Callable[[Doc], bool]
) -> None:
    headers, docs = loaded
    expected = sorted(d["id"] for d in docs if wanted(d))
    response = await api.get("/api/v1/event", headers, q=q, per_page=1000)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == expected
    assert response.headers["X-Total-Count"] == str(len(expected))
    assert response.headers["X-Filter"] == q


def sort_value(doc: Doc, field: str) -> Any:
    getters: dict[str, Callable[[Doc], Any]] = {
        "id": lambda d: d["id"],
        "timestamp": ts,
        "source": lambda d: ref(d, "event_source"),
        "severity": lambda d: ref(d, "event_severity"),
        "alert": lambda d: d["alert"],
        "organisation": lambda d: ref(d, "organisation", "name"),
        "user": lambda d: ref(d, "user"),
        "endpoint": lambda d: ref(d, "endpoint", "name"),
        "tags": lambda d: ref(d, "endpoint", "tags"),
        "ip_address": lambda d: ref(d, "endpoint", "ip_address"),
        "iccid": lambda d: ref(d, "sim", "iccid"),
        "imsi": lambda d: ref(d, "imsi", "imsi"),
        "type": lambda d: ref(d, "event_type"),
    }
    return getters[field](doc)


def expected_order(docs: list[Doc], spec: list[tuple[str, bool]]) -> list[int]:
    """Sort by each key (NULL last ascending, first descending), id ascending breaking ties."""
    rows = sorted(docs, key=lambda d: d["id"])
    for field, descending in reversed(spec):
        rows.sort(
            key=lambda d, f=field: (sort_value(d, f) is None, sort_value(d, f) or 0), reverse=descending
        )
    return [d["id"] for d in rows]


SORT_FIELDS = [
    "id",
    "timestamp",
    "source",
    "severity",
    "alert",
    "organisation",
    "user",
    "endpoint",
    "tags",
    "ip_address",
    "iccid",
    "imsi",
    "type",
]


@pytest.mark.parametrize("field", SORT_FIELDS)
@pytest.mark.parametrize("descending", [False, True])
async def test_every_sort_field_orders_the_list(
    loaded: tuple[dict[str, str], list[Doc]], api: Api, field: str, descending: bool
) -> None:
    headers, docs = loaded
    sort = ("-" if descending else "") + field
    rows = await api.walk("/api/v1/event", headers, per_page=7, sort=sort)
    assert [e["id"] for e in rows] == expected_order(docs, [(field, descending)])


@pytest.mark.parametrize(
    "sort", ["-timestamp,id", "-timestamp,-id", "severity,-type", "alert,-timestamp,-id"]
)
async def test_compound_sorts_break_ties_by_the_next_key(
    loaded: tuple[dict[str, str], list[Doc]], api: Api, sort: str
) -> None:
    headers, docs = loaded
    spec = [(item.lstrip("-"), item.startswith("-")) for item in sort.split(",")]
    response = await api.get("/api/v1/event", headers, sort=sort, per_page=1000)
    assert [e["id"] for e in response.json()] == expected_order(docs, spec)
    assert response.headers["X-Sort"] == sort


async def test_default_order_is_id_ascending(loaded: tuple[dict[str, str], list[Doc]], api: Api) -> None:
    headers, docs = loaded
    response = await api.get("/api/v1/event", headers)
    assert [e["id"] for e in response.json()] == sorted(d["id"] for d in docs)
    assert response.headers["X-Count-Per-Page"] == "1000"  # the default per_page
