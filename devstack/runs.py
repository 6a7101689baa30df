"""What the Function app's retrain API says about a run, as its callers here (demo, tests, bench) read it."""

from __future__ import annotations

TERMINAL = frozenset({"succeeded", "rejected", "skipped", "failed"})  # a run in one of these has ended
