"""parse_q on any input: an EventFilter or Unprocessable (HTTP 422), never any other exception; and
well-formed filters always parse and can be evaluated."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cellstream.errors import Unprocessable
from cellstream.events.columns import EventColumns
from cellstream.events.query import MAX_VALUES, Q_FIELD_NAMES, EventFilter, parse_q

ROW = EventColumns(
    id=1,
    org_id=1,
    ts_ms=1_767_225_600_000,
    type_id=3,
    source_id=0,
    severity_id=0,
    alert=False,
    description="PDP Context",
    org_name="Org",
    user_id=5,
    user_text="Ann ann@x",
    endpoint_id=7,
    endpoint_name="pump",
    tags="a,b",
    ip_address="10.0.0.1",
    imei="3500",
    sim_id=8,
    iccid="8988303000000000001",
    imsi="29505",
    network="Telekom",
    country="Germany",
    rat=6,
)
SYMBOLS = st.sampled_from([",", ":", "|", " ", "-", "T", "Z", "+", ".", "%7C", "\x00", "é", "\n"])
NAMES = st.sampled_from([*Q_FIELD_NAMES, "nope", "TYPE", ""])
VALUES = st.one_of(
    st.integers(-5, 10**20).map(str),
    st.text(max_size=12),
    st.sampled_from(
        [
            "true",
            "False",
            "2026-01-01T00:00:00Z",
            "2026-13-01",
            "10.0.0.1",
            "::1",
            "8988303000000000001",
            "yesterday",
        ]
    ),
)


def assert_total(q: str) -> None:
    """Any other exception propagates and fails the test; a 422 must name the q parameter."""
    problem: Unprocessable | None = None
    try:
        result = parse_q(q)
    except Unprocessable as exc:
        problem = exc
    if problem is not None:
        assert [p.field for p in problem.problems][:1] == ["q"]
        return
    assert isinstance(result, EventFilter)
    assert result.matches(ROW) in (True, False)


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_arbitrary_text_parses_or_is_unprocessable(q: str) -> None:
    assert_total(q)


@given(st.lists(st.tuples(NAMES, st.lists(VALUES, min_size=0, max_size=8), SYMBOLS), max_size=6))
@settings(max_examples=400)
def test_field_shaped_text_parses_or_is_unprocessable(parts: list[tuple[str, list[str], str]]) -> None:
    assert_total(",".join(f"{name}:{'|'.join(values)}{noise}" for name, values, noise in parts))


WELL_FORMED = {
    "type": st.integers(0, 67).map(str),
    "source": st.integers(0, 2).map(str),
    "severity": st.integers(0, 2).map(str),
    "alert": st.sampled_from(["true", "false"]),
    "description": st.text("abcXYZ 0123", min_size=1, max_size=8).filter(str.strip),
    "endpoint": st.text("abc-_", min_size=1, max_size=6),
    "iccid": st.text("0123456789", min_size=1, max_size=21),
    "imsi": st.text("0123456789", min_size=1, max_size=15),
    "ip_address": st.ip_addresses().map(str),
    "rat": st.integers(0, 9).map(str),
}


@given(
    st.dictionaries(st.sampled_from(sorted(WELL_FORMED)), st.integers(1, MAX_VALUES), min_size=1), st.data()
)
@settings(max_examples=200)
def test_well_formed_filters_always_parse(fields: dict[str, int], data: st.DataObject) -> None:
    multi = {"type", "source", "severity", "endpoint", "iccid", "rat"}
    parts = []
    for name, count in fields.items():
        values = data.draw(st.lists(WELL_FORMED[name], min_size=1, max_size=count if name in multi else 1))
        parts.append(f"{name}:{'|'.join(values)}")
    result = parse_q(",".join(parts))
    assert len(result.conditions) == len(fields)
    assert result.matches(ROW) in (True, False)
