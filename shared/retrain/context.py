"""What every step of a run works with: the settings, Custom Vision, the two containers, and the three ways a
step hands its run back (checkpoint it, continue it in a new message, end it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azure.storage.blob import ContainerClient

from shared.customvision.clients import CustomVision
from shared.runs.store import Run
from shared.settings.definitions import Settings


@dataclass(frozen=True)
class StepContext:
    settings: Settings
    cv: CustomVision
    state_container: ContainerClient
    training_container: ContainerClient
    save: Callable[[Run], None]  # checkpoint the record (ETag-conditioned)
    enqueue: Callable[[Run, int], None]  # continue the run in a new message after a delay (seconds)
    finish: Callable[..., None]  # end the run with a status, a reason or an error
