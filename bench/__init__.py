"""Cellstream's benchmarks: each prints its figure next to a raw baseline measured in the same run.

Run with `make bench` or `python -m bench [ingest|api]`; see docs/benchmarks.md. Never part of `make test`.
"""
