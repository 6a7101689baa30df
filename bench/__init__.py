"""Benchmarks of the local stack: ``python -m bench`` (``make bench``); see docs/performance.md."""
