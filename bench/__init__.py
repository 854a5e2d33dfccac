"""Benchmarks: each prints ratios against a baseline measured in the same run.

`python -m bench` (or `make bench`) runs them all; `python -m bench ingest|dispatch` one.
"""
