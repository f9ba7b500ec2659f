"""Renders docs/event-catalog.md from the catalog (`python -m cellstream.events.catalog_doc`).
A test fails when the committed page is stale."""

from __future__ import annotations

from cellstream.events.catalog import EVENT_TYPES, SEVERITIES, SOURCES, Status


def render() -> str:
    lines = [
        "# Event catalog",
        "",
        "Generated from `src/cellstream/events/catalog.py` by `python -m cellstream.events.catalog_doc`;",
        "do not edit by hand. `GET /api/v1/event/type` returns the `id` and `name` columns.",
        "",
        "Status: *current* = documented in emnify's current docs; *historical* = removed from them;",
        "*reseller* = MNO/reseller accounts only; *lookup-only* = only in the event-type lookup;",
        "*custom* = emitted by Cellstream's custom-event templates (`/api/v1/event/custom/…`),",
        "not by emnify.",
        "Source, severity and alert are the usual values, filled in when an ingested event omits them.",
        "",
        "| id | name | lookup name | category | status | source | severity | alert |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    for t in EVENT_TYPES:
        lookup = t.lookup_name if t.lookup_name != t.name else ""
        lines.append(f"| {t.id} | {t.name} | {lookup} | {t.category} | {t.status.value} | "
                     f"{SOURCES[t.source]} | {SEVERITIES[t.severity]} | {str(t.alert).lower()} |")
    custom = sum(1 for t in EVENT_TYPES if t.status is Status.CUSTOM)
    documented = len(EVENT_TYPES) - custom
    lines += ["", f"{len(EVENT_TYPES)} types ({documented} documented by emnify, {custom} custom). "
              "Id 66 appears in no source and is rejected on input.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
