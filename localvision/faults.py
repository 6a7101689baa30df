"""Fault injection for resilience tests (``--faults 429:0.2,500:0.1,slow:0.1,drop:0.05,trainfail:1.0``).

429, 500, slow and drop apply to prediction calls: one draw per call picks at most one of them. ``trainfail``
makes a training job end ``Failed``. Off unless asked for; ``--fault-seed`` makes the draws reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

PREDICTION_FAULTS = ("429", "500", "slow", "drop")
KINDS = (*PREDICTION_FAULTS, "trainfail")


class FaultSpecError(ValueError):
    """A malformed ``--faults`` value; the message says what is expected."""


def parse_spec(spec: str) -> dict[str, float]:
    """``"429:0.2,drop:0.05"`` -> ``{"429": 0.2, "drop": 0.05}``."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, sep, value = item.partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS or not sep:
            raise FaultSpecError(
                f"--faults: '{item}' is not KIND:PROBABILITY with KIND one of {', '.join(KINDS)}"
            )
        try:
            probability = float(value)
        except ValueError:
            raise FaultSpecError(f"--faults: '{value}' in '{item}' is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise FaultSpecError(f"--faults: probability in '{item}' must be between 0 and 1")
        faults[kind] = probability
    if sum(faults.get(kind, 0.0) for kind in PREDICTION_FAULTS) > 1.0 + 1e-9:
        raise FaultSpecError("--faults: the probabilities of 429, 500, slow and drop add up to more than 1")
    return faults


@dataclass
class Faults:
    probabilities: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    slow_seconds: float = 3.0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return any(self.probabilities.values())

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def prediction_fault(self) -> str | None:
        """The fault to inject into this prediction call, if any."""
        if not any(self.probabilities.get(kind) for kind in PREDICTION_FAULTS):
            return None
        draw, edge = self._draw(), 0.0
        for kind in PREDICTION_FAULTS:
            edge += self.probabilities.get(kind, 0.0)
            if draw < edge:
                return kind
        return None

    def training_fails(self) -> bool:
        probability = self.probabilities.get("trainfail", 0.0)
        return probability > 0 and self._draw() < probability
