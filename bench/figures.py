"""A benchmark figure, the printed table and the merged results file.

Ratios are "higher is better" everywhere: value/baseline for throughputs, baseline/value when both the
figure and its baseline are latencies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

RESULTS = Path(__file__).parent / "results" / "latest.json"
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    better: Better = "higher"
    goal: float | None = None  # the target value: a minimum if higher is better, else a maximum
    min_ratio: float | None = None  # the target ratio to the baseline

    @property
    def target(self) -> str:
        sign = ">=" if self.better == "higher" else "<="
        parts = [] if self.goal is None else [f"{sign} {self.goal:,g}"]
        if self.min_ratio is not None:
            parts.append(f"ratio >= {self.min_ratio:g}")
        return ", ".join(parts) or "recorded"

    @property
    def met(self) -> bool | None:
        if self.goal is None and self.min_ratio is None:
            return None
        if self.goal is None:
            ok = True
        else:
            ok = self.value >= self.goal if self.better == "higher" else self.value <= self.goal
        ratio = self.ratio
        return ok and (self.min_ratio is None or (ratio is not None and ratio >= self.min_ratio))

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.value / self.baseline if self.better == "higher" else self.baseline / self.value

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {"value": round(self.value, 3), "unit": self.unit,
                "baseline": None if self.baseline is None else round(self.baseline, 3),
                "ratio": None if ratio is None else round(ratio, 3)}


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def table(figures: list[Figure]) -> str:
    head = ("figure", "value", "unit", "baseline", "ratio", "target", "met")
    rows = [(f.name, _num(f.value), f.unit, _num(f.baseline), _num(f.ratio), f.target,
             {True: "yes", False: "NO", None: "-"}[f.met]) for f in figures]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    right = (False, True, False, True, True, False, False)

    def line(cells: tuple[str, ...]) -> str:
        parts = zip(cells, widths, right, strict=True)
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in parts).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def merge(figures: list[Figure], path: Path = RESULTS) -> None:
    """Add (or replace) these figures in the results file, keeping every other figure in it."""
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except ValueError:
            existing = {}
    existing.update({f.name: f.as_json() for f in figures})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
