"""What the simulator counts and how it shows it: a rich progress bar on a terminal, a line every few
seconds otherwise (logs, CI), nothing when it runs inside the platform (`cellstream run`)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, TextIO


@dataclass
class Counters:
    sent: Counter[str] = field(default_factory=Counter)  # records by kind
    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # why records were refused
    submits: int = 0
    sim_ms: int = 0  # simulated time covered
    events: int | None = None  # events the platform stored meanwhile, when the simulator can see them
    real_s: float = 0.0

    def count(self, kind: str, accepted: bool, reason: str | None) -> None:
        self.sent[kind] += 1
        if accepted:
            self.accepted[kind] += 1
        else:
            self.refused[kind] += 1
            self.reasons[reason or "no reason given"] += 1

    @property
    def records(self) -> int:
        return sum(self.sent.values())

    def line(self) -> str:
        rate = self.records / self.real_s if self.real_s > 0 else 0.0
        text = (f"sim {_clock(self.sim_ms)}  records {self.records:,} (accepted "
                f"{sum(self.accepted.values()):,}, refused {sum(self.refused.values()):,})  {rate:,.0f}/s")
        if self.events is not None:
            text += f"  events {self.events:,}"
        return text

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(self.sent.items()))
        reasons = "; ".join(f"{n:,}× {why}" for why, n in self.reasons.most_common(5))
        return self.line() + (f"\n  by kind: {kinds}" if kinds else "") + (
            f"\n  refused: {reasons}" if reasons else "")


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress(Protocol):
    def start(self, total_ms: int | None) -> None: ...

    def update(self, counters: Counters) -> None: ...

    def stop(self, counters: Counters) -> None: ...


class NoProgress:
    def start(self, total_ms: int | None) -> None:
        return None

    def update(self, counters: Counters) -> None:
        return None

    def stop(self, counters: Counters) -> None:
        return None


class LineProgress:
    """A status line every `every_s` real seconds and a summary at the end."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._next = 0.0

    def start(self, total_ms: int | None) -> None:
        self._next = time.monotonic() + self.every_s

    def update(self, counters: Counters) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            print(counters.line(), file=self.stream, flush=True)

    def stop(self, counters: Counters) -> None:
        print(counters.line(), file=self.stream, flush=True)


class RichProgress:
    """A bar over simulated time (or a spinner when the run has no end), redrawn a few times a second."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bar = Progress(SpinnerColumn(), BarColumn(bar_width=16), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=self.console, refresh_per_second=4)
        self._task = self.bar.add_task("starting", total=None)
        self._next = 0.0

    def start(self, total_ms: int | None) -> None:
        self.bar.update(self._task, total=total_ms)
        self.bar.start()

    def update(self, counters: Counters) -> None:
        now = time.monotonic()
        if now >= self._next:  # formatting the line for every tick would cost more than the tick
            self._next = now + 0.25
            self.bar.update(self._task, completed=counters.sim_ms, description=counters.line())

    def stop(self, counters: Counters) -> None:
        self.bar.update(self._task, completed=counters.sim_ms, description=counters.line())
        self.bar.stop()


def progress_for(quiet: bool) -> Progress:
    if quiet:
        return NoProgress()
    return RichProgress() if sys.stderr.isatty() else LineProgress()
