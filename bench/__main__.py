"""`python -m bench [ingest|api ...]`: run the benchmarks (all by default), print every figure next to its
same-run baseline and merge them into bench/results/latest.json."""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.figures import RESULTS, Figure, merge, table
from bench.machine import Snapshot

BENCHMARKS: dict[str, str] = {"ingest": "bench.ingest", "api": "bench.event_api", "policy": "bench.policy",
                             "simulator": "bench.simulator", "streamer": "bench.streamer",
                             "automations": "bench.automations"}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    figures: list[Figure] = []
    failed: list[str] = []
    for name in names:
        started, machine = time.perf_counter(), Snapshot.take()
        print(f"== {name}", flush=True)
        try:
            produced = importlib.import_module(BENCHMARKS[name]).run()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        merge(produced)
        figures.extend(produced)
        print(f"== {name} done in {time.perf_counter() - started:,.0f} s; {machine.report()}", flush=True)
    print()
    print(table(figures))
    print(f"\nratios: higher is better (value/baseline; baseline/value for latencies). Written to {RESULTS}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
