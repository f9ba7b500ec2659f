"""Every documented example event, pushed through POST /internal/v1/events and read back through
GET /api/v1/event, comes back with the same content in canonical form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from cellstream.events.catalog import BY_ID
from tests.conftest import need_fixtures

from .conftest import Api

CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
MODEL_KEYS = (
    "id",
    "timestamp",
    "alert",
    "description",
    "event_type",
    "event_source",
    "event_severity",
    "organisation",
    "user",
    "endpoint",
    "sim",
    "imsi",
    "detail",
)
LOOKUPS = ("event_type", "event_source", "event_severity")
IDENTIFIERS = ("imsi", "iccid", "msisdn", "imei")


def examples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(need_fixtures().glob("event-*.json")):
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and isinstance((doc.get("organisation") or {}).get("id"), int):
            docs.append(doc)
    assert len(docs) > 40
    return docs


def normal(value: Any) -> Any:
    """Null and absent alike; identifiers given as numbers equal the same digits as a string."""
    if isinstance(value, dict):
        return {
            k: str(v) if k in IDENTIFIERS and isinstance(v, int) else normal(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    out = normal({k: doc.get(k) for k in MODEL_KEYS})
    for key in LOOKUPS:
        out[key] = {"id": out[key]["id"]}
    out["alert"] = bool(out["alert"])
    moment = datetime.fromisoformat(
        re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", doc["timestamp"].replace("Z", "+00:00"))
    )
    out["timestamp"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # no zone means UTC
    return out


async def test_documented_examples_round_trip_in_canonical_form(api: Api) -> None:
    docs = examples()
    stored = await api.ingest(docs)
    assert stored.status_code == 201, stored.text
    assert stored.json()["stored"] == len(docs)
    for org in sorted({d["organisation"]["id"] for d in docs}):
        mine = [d for d in docs if d["organisation"]["id"] == org]
        got = {e["id"]: e for e in await api.walk("/api/v1/event", await api.bearer(org))}
        assert sorted(got) == sorted(d["id"] for d in mine)
        for doc in mine:
            out = got[doc["id"]]
            assert comparable(out) == comparable(doc), doc["id"]
            assert CANONICAL_TS.fullmatch(out["timestamp"])
            assert isinstance(out["alert"], bool)
            assert out["event_type"]["description"] == BY_ID[out["event_type"]["id"]].name
            for key in LOOKUPS:
                assert set(out[key]) == {"id", "description"}
            assert None not in out.values()  # objects that do not apply are left out, not null
            for obj, key in (("sim", "iccid"), ("imsi", "imsi"), ("endpoint", "imei")):
                value = (out.get(obj) or {}).get(key)
                assert value is None or isinstance(value, str)


async def test_ingesting_the_examples_twice_stores_nothing_new(api: Api) -> None:
    docs = examples()
    assert (await api.ingest(docs)).status_code == 201
    again = await api.ingest(docs)
    assert again.status_code == 201
    assert again.json() == {
        "stored": 0,
        "duplicates": len(docs),
        "first_position": None,
        "last_position": None,
    }
