"""A small hand-made dataset whose query answers are worked out by hand in the tests.

Organisation 1 holds events with ids 1–7 and 4000; organisation 2 holds a copy of each (same ids, same
fields), which no query of organisation 1 may ever return.
"""

from __future__ import annotations

from cellstream.events.model import Event

from .factory import DAY, event, network_detail

TRACKER_NORTH = {"id": 10, "name": "Tracker-North", "tags": "fleet,cold", "ip_address": "10.0.0.1",
                 "imei": "356938035643809"}
TRACKER_SOUTH = {"id": 11, "name": "tracker-south", "tags": "FLEET"}
ODD_NAME = {"id": 12, "name": "100%_sure\\path"}
SPACED = {"id": 13, "name": "100 sure"}
ADA = {"id": 30, "name": "Ada Lovelace", "username": "ada@example.com"}
BOB = {"id": 31, "name": "Bob", "username": "bob@example.com"}
AGENT = {"id": 7, "name": "Agent 47", "username": "agent@example.com"}


def org_events(org: int) -> list[Event]:
    return [
        event(org, id=1, type=3, ts=0, endpoint=TRACKER_NORTH, sim={"id": 20, "iccid": "8988303000000000001"},
              imsi="901430000000001", detail=network_detail("Telekom", "Germany", 6)),
        event(org, id=2, type=5, ts=1000, endpoint=TRACKER_SOUTH,
              sim={"id": 21, "iccid": "89883030000000000029"}, imsi="901430000000002",
              detail=network_detail("Vodafone", "Germany", 5)),
        event(org, id=3, type=1, ts=2000, alert=True, endpoint=TRACKER_NORTH,
              sim={"id": 20, "iccid": "8988303000000000001"}, detail=network_detail("Orange", "France")),
        event(org, id=4, type=6, ts=3000, user=ADA, description="Failed login for ADA"),
        event(org, id=5, type=8, ts=DAY, endpoint=ODD_NAME, sim={"id": 22, "iccid": "8988303000000000099"},
              user=BOB),
        event(org, id=6, type=3, ts=DAY + 5, endpoint=ODD_NAME, sim={"id": 23, "iccid": "898830300000000009"},
              user=AGENT, detail=network_detail("Telekom", "Austria", 6)),
        event(org, id=7, type=3, ts=2 * DAY, org_name=None, description="Ümlaut ÄRGER", endpoint=SPACED,
              sim={"id": 24, "iccid": "898830300000000000295"}),  # 21 digits
        event(org, id=4000, type=11, ts=2 * DAY + 1, org_name="Acme Subsidiary",
              endpoint={**TRACKER_SOUTH, "ip_address": "2001:db8::1"}),
    ]


DATASET: list[Event] = org_events(1) + org_events(2)
ALL_IDS = {1, 2, 3, 4, 5, 6, 7, 4000}
