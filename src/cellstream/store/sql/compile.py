"""An EventQuery compiled to SQL text and parameters, with exactly the semantics of the in-memory
predicate (`Condition.matches`, `compare_keys` in cellstream.events.query).

Plain strings, not SQLAlchemy: compiling an expression per request costs more than the query itself. The
SQL is standard (LIKE … ESCAPE, NULLS FIRST/LAST, row values) so PostgreSQL can reuse most of it; the few
places that depend on SQLite's behaviour are marked.

- "in" → `col IN (…)`; "between" → inclusive; "iccid" → exact when longer than 19 characters, else a
  prefix, as the range `col >= v AND col < v'` (v' = v with its last character incremented: exact for
  any text under binary collation, which is code point order for UTF-8, like Python's str).
- "contains" → `col LIKE '%v%' ESCAPE '\\'` with %, _ and \\ escaped. SQLite's LIKE folds ASCII case
  only, which is what `ascii_lower` does. (PostgreSQL will need `lower()`-free ASCII folding here.)
- "text_or_id" → contains on the text column, or the id column equal to the value if it is all digits.
- Sort: NULL is larger than every value (NULLS LAST ascending, NULLS FIRST descending).
- Keyset: rows strictly after a row's sort values, NULL-aware, as an OR of prefix-equal clauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cellstream.errors import BadParameter
from cellstream.events.columns import COLUMN_NAMES
from cellstream.events.query import Condition, EventQuery, SortKey
from cellstream.store.sql.schema import NULLABLE_EVENT_COLUMNS

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Every day from the first stored event's to the last's: the scope indexes lead with the store day, and one
# seek per day reaches a scope's rows (the first and last rows by position are B-tree ends, so cheap).
STORED_DAYS = ("(WITH RECURSIVE day(d) AS ("
               "SELECT (SELECT stored_day FROM events ORDER BY position LIMIT 1) UNION ALL "
               "SELECT d + 1 FROM day "
               "WHERE d < (SELECT stored_day FROM events ORDER BY position DESC LIMIT 1)) "
               "SELECT d FROM day)")
_FALSE = "0 = 1"


def column(name: str) -> str:
    """A column name checked against the known event columns (they are interpolated into SQL)."""
    if name not in COLUMN_NAMES:
        raise ValueError(f"{name!r} is not an event column")
    return name


def digits_value(text: str) -> int | None:
    """The integer an all-(ASCII-)digit string names, as `Condition.matches` reads it."""
    return int(text) if text.isascii() and text.isdigit() else None


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bindable(value: Any) -> bool:
    """Integers outside 64 bits cannot be bound (and match no stored value)."""
    return not isinstance(value, int) or isinstance(value, bool) or INT64_MIN <= value <= INT64_MAX


def _in(col: str, values: Sequence[Any], params: list[Any]) -> str:
    usable = [v for v in values if _bindable(v)]
    if not usable:
        return _FALSE
    params.extend(usable)
    if len(usable) == 1:
        return f"{col} = ?"
    return f"{col} IN ({', '.join('?' * len(usable))})"


def _iccid(col: str, values: Sequence[str], params: list[str]) -> str:
    parts = []
    for value in values:
        if len(value) > 19:
            parts.append(f"{col} = ?")
            params.append(value)
        elif value and ord(value[-1]) < 0x10FFFF:
            parts.append(f"({col} >= ? AND {col} < ?)")
            params.extend((value, value[:-1] + chr(ord(value[-1]) + 1)))
        else:
            parts.append(f"substr({col}, 1, {len(value)}) = ?")
            params.append(value)
    return _any(parts)


def _contains(col: str, values: Sequence[str], params: list[Any]) -> list[str]:
    params.extend(like_pattern(v) for v in values)
    return [f"{col} LIKE ? ESCAPE '\\'" for _ in values]


def _any(parts: list[str]) -> str:
    if not parts:
        return _FALSE
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def condition_sql(cond: Condition, params: list[Any]) -> str:
    col = column(cond.column)
    if cond.op == "in":
        return _in(col, cond.values, params)
    if cond.op == "between":
        lo, hi = cond.values
        if not (_bindable(lo) and _bindable(hi)):
            raise ValueError(f"range {lo}..{hi} is out of bounds")
        params.extend((lo, hi))
        return f"{col} BETWEEN ? AND ?"
    if cond.op == "iccid":
        return _iccid(col, cond.values, params)
    parts = _contains(col, cond.values, params)
    if cond.op == "text_or_id":
        ids = [i for i in (digits_value(v) for v in cond.values) if i is not None and _bindable(i)]
        if ids:
            parts.append(_in(column(cond.id_column), ids, params))
    return _any(parts)


def where_sql(query: EventQuery, params: list[Any]) -> str:
    """The WHERE clause (without the keyword) selecting the query's rows; appends to `params`."""
    if query.scope is None:
        clauses = ["org_id = ?"]
        params.append(query.org_id)
    else:
        # `+org_id` keeps the planner off the organisation indexes: the scope's index finds its few rows.
        name, value = query.scope
        clauses = ["+org_id = ?", f"stored_day IN {STORED_DAYS}", f"{column(name)} = ?"]
        params.extend((query.org_id, value))
    clauses.extend(condition_sql(c, params) for c in query.filter.conditions)
    return " AND ".join(clauses)


def order_sql(sort: Sequence[SortKey]) -> str:
    """ORDER BY items; NULLS only for nullable columns (the NOT NULL ones keep plain index order)."""
    items = []
    for key in sort:
        col = column(key.column)
        direction = "DESC" if key.descending else "ASC"
        nulls = (" NULLS FIRST" if key.descending else " NULLS LAST") if col in NULLABLE_EVENT_COLUMNS else ""
        items.append(f"{col} {direction}{nulls}")
    return ", ".join(items)


def check_after(sort: Sequence[SortKey], after: Sequence[Any]) -> None:
    if len(after) != len(sort):
        raise BadParameter.of("cursor", f"has {len(after)} sort values, the sort has {len(sort)}")
    for value in after:
        if (value is not None and not isinstance(value, (bool, int, float, str))) or not _bindable(value):
            raise BadParameter.of("cursor", f"holds a value of an unexpected kind: {value!r}")


def _after_key(key: SortKey, value: Any, params: list[Any]) -> str | None:
    """Rows strictly after `value` in this key's order (NULL is the largest value); None: no row is."""
    col = column(key.column)
    nullable = col in NULLABLE_EVENT_COLUMNS
    if value is None:
        return f"{col} IS NOT NULL" if key.descending else None
    params.append(value)
    if key.descending:
        return f"{col} < ?"
    return f"({col} > ? OR {col} IS NULL)" if nullable else f"{col} > ?"


def _equal_key(key: SortKey, value: Any, params: list[Any]) -> str:
    col = column(key.column)
    if value is None:
        return f"{col} IS NULL"
    params.append(value)
    return f"{col} = ?"


def after_sql(sort: Sequence[SortKey], after: Sequence[Any], params: list[Any]) -> str:
    """Rows strictly after the row whose sort values are `after`, under `sort`'s order."""
    check_after(sort, after)
    plain = all(k.column not in NULLABLE_EVENT_COLUMNS for k in sort) and None not in after
    if plain and len({k.descending for k in sort}) == 1:
        # One direction, no NULLs: a row-value comparison, which SQLite turns into one index range.
        cols = ", ".join(column(k.column) for k in sort)
        params.extend(after)
        return f"({cols}) {'<' if sort[0].descending else '>'} ({', '.join('?' * len(after))})"
    lead_params: list[Any] = []
    lead = _lead_bound(sort[0], after[0], lead_params)
    branches = []
    branch_params: list[Any] = []
    for i, key in enumerate(sort):
        these: list[Any] = []
        prefix = [_equal_key(k, v, these) for k, v in zip(sort[:i], after[:i], strict=True)]
        tail = _after_key(key, after[i], these)
        if tail is not None:
            branches.append("(" + " AND ".join([*prefix, tail]) + ")")
            branch_params.extend(these)
    params.extend(lead_params)
    params.extend(branch_params)
    combined = _any(branches)
    return f"{lead} AND {combined}" if lead else combined


def _lead_bound(key: SortKey, value: Any, params: list[Any]) -> str:
    """A redundant bound on the first key (at or after `value`) that lets an index range start there."""
    col = column(key.column)
    if value is None:
        return "" if key.descending else f"{col} IS NULL"
    if key.descending:
        params.append(value)
        return f"{col} <= ?"
    if col in NULLABLE_EVENT_COLUMNS:
        return ""
    params.append(value)
    return f"{col} >= ?"


def page_sql(query: EventQuery, limit: int, offset: int = 0,
             after: Sequence[Any] | None = None) -> tuple[str, list[Any]]:
    """One page: the sort-key values are selected after the body (for the keyset cursor).

    The inner query finds the page's positions — only an index walk when an index serves the filter and
    the order, so a deep OFFSET skips index entries rather than 1 KB rows — and the outer one reads
    just those rows by primary key (then orders the few it got)."""
    params: list[Any] = []
    where = where_sql(query, params)
    if after is not None:
        where += " AND " + after_sql(query.sort, after, params)
    params.extend((limit, max(offset, 0)))
    order = order_sql(query.sort)
    keys = ", ".join(column(k.column) for k in query.sort)
    sql = (f"SELECT body, {keys} FROM events WHERE position IN "
           f"(SELECT position FROM events WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) "
           f"ORDER BY {order}")
    return sql, params
