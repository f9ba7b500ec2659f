"""How busy the machine was while a benchmark ran: CPU time that processes other than this one and its
(waited-for) children took, from /proc/stat. On a shared 2-core machine that is the noise in every figure."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _busy_seconds() -> float:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Snapshot:
    busy: float
    own: float
    wall: float

    @classmethod
    def take(cls) -> Snapshot:
        return cls(_busy_seconds(), _own_seconds(), os.times().elapsed)

    def report(self) -> str:
        """CPU taken by other processes since this snapshot, as a share of the machine."""
        now = Snapshot.take()
        wall = max(now.wall - self.wall, 1e-9)
        others = max(0.0, (now.busy - self.busy) - (now.own - self.own))
        cores = os.cpu_count() or 1
        share = others / (wall * cores)
        note = "  WARNING: the machine was busy; figures are noisy" if share > 0.1 else ""
        return (f"other processes used {others:,.1f} CPU-s of {wall * cores:,.0f} available "
                f"({share:.0%}; load average now {os.getloadavg()[0]:.2f}){note}")
