"""One labelling decision per image: whoever claims it first wins.

Labelling (``review/assign``, ``result/label``) first writes a small decision blob,
``console/labels/{sha256 of the image name}.json`` in the pipeline container, create-only (the storage
service's If-None-Match: *). Only the request whose create succeeded copies the image into training;
every other request for the same image and content reads the decision instead: the same tag answers
that the image is already there (no second copy), another tag is a 409 ``LabelledMeanwhile``.

A decision stops counting when the image's content changed since (a new version is a new decision), or
when its training blob is gone and the decision is older than ``STALE_SECONDS`` (deleted since, or a
labeller that stopped half-way); it is then replaced, conditionally on its ETag, so two requests cannot
both take it over. Undoing a label releases its decision.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.storage import ensure_container, write_json

log = logging.getLogger(__name__)
LABELS_PREFIX = "console/labels/"
STALE_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    """The image ``name`` (its content: ``sha256``) went to ``training/{training}`` as ``tag``."""

    name: str
    tag: str
    training: str
    sha256: str


@dataclass(frozen=True)
class Claim:
    """A decision this request holds (``etag`` of its blob), or the one another request made first."""

    decision: Decision
    etag: str | None
    ours: bool


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Labels:
    def __init__(self, pipeline: ContainerClient, training: ContainerClient) -> None:
        self.pipeline = pipeline
        self.training = training

    def _blob(self, name: str):
        return self.pipeline.get_blob_client(_blob_name(name))

    def claim(self, wanted: Decision) -> Claim:
        """Make ``wanted`` the image's decision unless a current one exists; that one is answered then."""
        ensure_container(self.pipeline)
        blob = self._blob(wanted.name)
        for _ in range(3):
            try:
                return Claim(wanted, write_json(self.pipeline, blob.blob_name, asdict(wanted)), ours=True)
            except ResourceExistsError:
                pass
            found = self._read(blob)
            if found is None:
                continue  # released meanwhile: claim again
            decision, etag, age = found
            if decision.sha256 == wanted.sha256 and (age < STALE_SECONDS or self._in_training(decision)):
                return Claim(decision, etag, ours=False)
            try:  # stale: take it over, unless someone else did first
                written = write_json(self.pipeline, blob.blob_name, asdict(wanted), if_match=etag)
                return Claim(wanted, written, ours=True)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
        found = self._read(blob)
        if found is None:  # claimed and released again and again: answer as if decided meanwhile
            return Claim(wanted, None, ours=False)
        return Claim(found[0], found[1], ours=False)

    def find(self, name: str) -> Decision | None:
        """The image's decision, if one was made."""
        found = self._read(self._blob(name))
        return found[0] if found is not None and found[0].name == name else None

    def settle(self, claim: Claim, training_name: str) -> Claim:
        """Record the training blob the image really went to (a free name may differ from the wanted)."""
        if training_name == claim.decision.training:
            return claim
        decision = Decision(claim.decision.name, claim.decision.tag, training_name, claim.decision.sha256)
        written = write_json(self.pipeline, _blob_name(decision.name), asdict(decision), if_match=claim.etag)
        return Claim(decision, written, ours=True)

    def release(self, name: str, training_name: str | None = None) -> None:
        """Forget the image's decision (only the one naming ``training_name``, when given)."""
        blob = self._blob(name)
        found = self._read(blob)
        if found is None or (training_name is not None and found[0].training != training_name):
            return
        try:
            blob.delete_blob(etag=found[1], match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            log.info("the label decision of %s changed meanwhile: kept", name)

    def _read(self, blob) -> tuple[Decision, str, float] | None:
        try:
            downloader = blob.download_blob()
            raw = downloader.readall()
        except ResourceNotFoundError:
            return None
        properties = downloader.properties
        age = (datetime.now(UTC) - properties.last_modified).total_seconds()
        try:
            decision = Decision(**json.loads(raw))
        except (ValueError, TypeError):  # not one this module wrote: as good as none, replace it
            decision = Decision("", "", "", "")
            age = STALE_SECONDS
        return decision, properties.etag, age

    def _in_training(self, decision: Decision) -> bool:
        return bool(decision.training) and self.training.get_blob_client(decision.training).exists()


def _blob_name(image_name: str) -> str:
    return f"{LABELS_PREFIX}{hashlib.sha256(image_name.encode()).hexdigest()}.json"
