"""Renders docs/event-catalog.md from the catalog (`python -m cellstream.events.catalog_doc`).
A test fails when the committed page is stale."""

from __future__ import annotations

from cellstream.events.catalog import EVENT_TYPES, SEVERITIES, SOURCES


def render() -> str:
    lines = [
        "# Event catalog",
        "",
        "Generated from `src/cellstream/events/catalog.py` by `python -m cellstream.events.catalog_doc`;",
        "do not edit by hand. `GET /api/v1/event/type` returns the `id` and `name` columns.",
        "",
        "Status: *current* = documented in emnify's current docs; *historical* = removed from them;",
        "*reseller* = MNO/reseller accounts only; *lookup-only* = only in the event-type lookup.",
        "Source, severity and alert are the usual values, filled in when an ingested event omits them.",
        "",
        "| id | name | lookup name | category | status | source | severity | alert |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    for t in EVENT_TYPES:
        lookup = t.lookup_name if t.lookup_name != t.name else ""
        lines.append(f"| {t.id} | {t.name} | {lookup} | {t.category} | {t.status.value} | "
                     f"{SOURCES[t.source]} | {SEVERITIES[t.severity]} | {str(t.alert).lower()} |")
    lines += ["", f"{len(EVENT_TYPES)} types. Id 66 appears in no source and is rejected on input.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
