"""Benchmarks for the hot paths (issue 10): run with ``make bench`` (bench/run.py)."""
