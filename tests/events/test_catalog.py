from __future__ import annotations

from cellstream.events import catalog
from cellstream.events.catalog_doc import render
from tests.conftest import REPO


def test_catalog_holds_every_known_type_id() -> None:
    ids = {t.id for t in catalog.EVENT_TYPES}
    documented = {t.id for t in catalog.EVENT_TYPES if t.status is not catalog.Status.CUSTOM}
    assert documented == set(range(66)) | {67}
    assert {1001, 1002, 1003, 1004, 1005} == catalog.CUSTOM_TYPE_IDS
    assert ids == documented | catalog.CUSTOM_TYPE_IDS
    assert len(catalog.EVENT_TYPES) == 67 + 5


def test_custom_types_are_warn_alerts_of_their_own_category() -> None:
    for type_id in catalog.CUSTOM_TYPE_IDS:
        kind = catalog.event_type(type_id)
        assert kind.category == "Custom events"
        assert (kind.severity, kind.alert) == (catalog.WARN, True)
        assert kind.source in (catalog.NETWORK, catalog.POLICY_CONTROL)


def test_current_types_use_the_current_documentation_names() -> None:
    current = [t for t in catalog.EVENT_TYPES if t.status is catalog.Status.CURRENT]
    assert len(current) == 44
    assert catalog.event_type(1).name == "Update location"
    assert catalog.event_type(1).lookup_name == "Update Location"
    assert catalog.event_type(13).name == "Support Access"
    assert catalog.event_type(18).name == "Quota threshold reached"


def test_lookup_is_id_and_description() -> None:
    lookup = catalog.type_lookup()
    assert lookup[0] == {"id": 0, "description": "Generic"}
    assert all(set(item) == {"id", "description"} for item in lookup)


def test_catalog_page_is_current() -> None:
    page = (REPO / "docs" / "event-catalog.md").read_text()
    assert page == render(), "docs/event-catalog.md is stale: python -m cellstream.events.catalog_doc"
