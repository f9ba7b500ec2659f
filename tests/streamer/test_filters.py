"""Stream filters: the documented items and `or` groups, the q-grammar extension, and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from cellstream.errors import Unprocessable
from cellstream.events.columns import columns_of
from cellstream.streamer.filters import compile_filters
from tests.contracts.factory import event


def admits(filters: Any, **fields: Any) -> bool:
    predicate = compile_filters(filters, 2)
    assert predicate is not None
    return predicate(columns_of(event(id=1, **fields)))


def test_no_filters_take_everything() -> None:
    assert compile_filters([], 2) is None
    assert compile_filters(None, 1) is None


def test_event_type_ids_accept_numbers_and_digit_strings() -> None:
    filters = [{"field": "event_type_id", "value": [1, "2", 3]}]
    assert admits(filters, type=2)
    assert admits(filters, type=3)
    assert not admits(filters, type=4)
    assert admits([{"field": "event_type_id", "value": 5}], type=5)  # a bare value


def test_alert_true_and_false() -> None:
    assert admits([{"field": "alert", "value": True}], alert=True)
    assert not admits([{"field": "alert", "value": True}], alert=False)
    assert admits([{"field": "alert", "value": "false"}], alert=False)
    assert admits([{"field": "alert", "value": [True]}], alert=True)


def test_top_level_items_all_hold_and_an_or_group_any() -> None:
    documented = [{"field": "event_type_id", "value": [1, 2, 3]}, {"or": [{"field": "alert", "value": True}]}]
    assert admits(documented, type=1, alert=True)
    assert not admits(documented, type=1, alert=False)
    assert not admits(documented, type=4, alert=True)
    either = [{"or": [{"field": "event_type_id", "value": [7]}, {"field": "alert", "value": True}]}]
    assert admits(either, type=7, alert=False)
    assert admits(either, type=1, alert=True)
    assert not admits(either, type=1, alert=False)


def test_any_q_field_is_an_extension() -> None:
    assert admits([{"field": "severity", "value": "1"}], severity=1)
    assert not admits([{"field": "severity", "value": "1"}], severity=0)
    named = [{"field": "endpoint", "value": ["tracker", "meter"]}]
    assert admits(named, endpoint={"id": 3, "name": "Tracker 7"})
    assert not admits(named, endpoint={"id": 3, "name": "Gateway"})


@pytest.mark.parametrize(("filters", "field"), [
    ({"field": "alert"}, "filters"),
    ([{"field": "event_type_id", "value": []}], "filters.0.value"),
    ([{"field": "event_type_id", "value": [True]}], "filters.0.value"),
    ([{"field": "event_type_id", "value": [12345]}], "filters.0.value"),
    ([{"field": "alert", "value": "maybe"}], "filters.0.value"),
    ([{"field": "alert"}], "filters.0.value"),
    ([{"field": "colour", "value": "red"}], "filters.0.field"),
    ([{"or": []}], "filters.0.or"),
    ([{"or": [{"or": [{"field": "alert", "value": True}]}]}], "filters.0.or.0"),
    (["alert"], "filters.0"),
    ([{"field": "severity", "value": "loud"}], "filters.0.value"),
    ([{"field": "alert", "value": True}] * 51, "filters"),
])
def test_bad_filters_name_the_item(filters: Any, field: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        compile_filters(filters, 2)
    assert [p.field for p in caught.value.problems] == [field]


def test_usage_streams_take_no_filters() -> None:
    with pytest.raises(Unprocessable, match="only event streams"):
        compile_filters([{"field": "alert", "value": True}], 1)
