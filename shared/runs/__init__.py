"""Retrain run records (``pipeline/runs/{runId}.json``): the typed record and the store with its marker.

May import only the root modules; ``mirror``, ``retrain``, the console and the HTTP API read and write runs
through it.
"""
