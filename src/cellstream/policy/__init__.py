"""Policy Control: the event source that decides what a subscriber may do and enforces it (facts §A.4
"policy enforcement": events 0, 3 rejected, 8 after the factory-test volume, 11, 12, 18–21, 60).

The Network source (cellstream.network.core) resolves each signalling record to a Subscriber and, inside
its own resource transaction, asks Policy Control:

- `admit_data_session` before opening a data session (cellstream.policy.data) — a refusal stores the
  rejected Create PDP Context event;
- `charge_data` with each usage report of an open session — quota, traffic limit, cost limit, Factory Test;
- `admit_sms` / `charge_sms` around each short message (cellstream.policy.sms);

and the runtime calls `sweep` periodically (cellstream.policy.expiry) to expire quotas and refill the
auto-refill ones at UTC midnight; the API calls `set_monthly_cost_limit` (cellstream.policy.limits).

Every function is synchronous and works only through the ResourceTx it is given, so what it writes and the
events it stores commit with the network's own changes, or not at all. Events carry the record's time
(`ts_ms`), not the transaction's. Policy Control reads the domain's records (SIM, endpoint, service
profile, quotas) and keeps its own counters in cellstream.policy.records.

A new quota needs no notification: `assign_quota` writes an ACTIVE quota, and Policy Control reads the
quota afresh at every admission and charge, so the next one uses it (a throttle or block lifts at the next
charge or admission). Likewise profile changes (data/SMS service, quota management, traffic limit) and a
new cost limit apply from the next admission or charge.

The module exposes the functions the Network source's PolicyControl protocol names, so the module itself
can be handed to it.
"""

from cellstream.policy.data import admit_data_session, charge_data
from cellstream.policy.expiry import sweep
from cellstream.policy.limits import set_monthly_cost_limit
from cellstream.policy.records import month_key
from cellstream.policy.sms import admit_sms, charge_sms

__all__ = ["admit_data_session", "admit_sms", "charge_data", "charge_sms", "month_key",
           "set_monthly_cost_limit", "sweep"]
