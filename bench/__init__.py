"""Benchmarks for the hot paths (docs/performance.md): run with ``make bench`` (bench/run.py)."""
