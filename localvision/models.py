"""The service's state and behaviour, with no HTTP: projects, tags, images, training, publishing, prediction.

Every change is written to the data folder before the call returns; training runs on one background
thread, so a call never waits for it.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from localvision import exceptions as errors
from localvision.domains import DOMAINS, GENERAL_CLASSIFICATION, Domain, find_domain
from localvision.engine import Engine
from localvision.entities import Image, Iteration, Project, Tag, new_id, utc_now
from localvision.exceptions import BadRequest, NotFound
from localvision.faults import Faults
from localvision.limits import (
    MAX_ITERATIONS,
    MAX_METADATA_PAIRS,
    MAX_TAGS_PER_IMAGE,
    MAX_TRAINING_IMAGE_BYTES,
    MIN_IMAGES_PER_TAG,
    ImageRejected,
    Tier,
    inspect_image,
)
from localvision.persistence import Store
from localvision.training import TrainingJob, TrainingQueue
from localvision.validation import (
    EMAIL,
    PREDICTION_RESOURCE_ID,
    TAG_TYPES,
    check_batch_size,
    check_classification_type,
    check_metadata,
    check_project_name,
    check_training_type,
)

if TYPE_CHECKING:
    from localvision.model import Performance


@dataclass
class Upload:
    """One image of an upload batch."""

    source: str  # what the result's sourceUrl shows
    data: bytes
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class UploadResult:
    source: str
    status: str
    image: Image | None = None


@dataclass
class MetadataResult:
    image_id: str
    status: str
    metadata: dict[str, str] | None = None


@dataclass
class TagPrediction:
    probability: float
    tag: dict  # the iteration's snapshot of the tag: id, name, type


@dataclass
class PredictionResult:
    id: str
    project_id: str
    iteration_id: str
    created: str
    predictions: list[TagPrediction]


@dataclass
class ImageQuery:
    iteration_id: str | None = None
    tag_ids: list[str] | None = None
    tagging_status: str | None = None  # All | Tagged | Untagged
    order_by: str | None = None  # Newest | Oldest


class Backend:
    """All projects of one server, loaded from ``store`` at start and saved on every change."""

    def __init__(self, store: Store, engine: Engine, tier: Tier | None = None, faults: Faults | None = None):
        self.store = store
        self.engine = engine
        self.tier = tier
        self.faults = faults or Faults()
        # Held while state is read or changed; callers hold it too while they shape replies from live records.
        self.lock = threading.RLock()
        self._projects: dict[str, Project] = {}
        for document in store.load_projects():
            project = Project.from_document(document)
            self._projects[project.id] = project
        self.trainer = TrainingQueue(self)
        for project in self._projects.values():
            for iteration in project.iterations.values():
                if iteration.status == "Training":  # interrupted by a stop: train it again
                    self.trainer.submit(project.id, iteration.id)

    # ----- helpers -----

    def _save(self, project: Project) -> None:
        project.last_modified = utc_now()
        self.store.save_project(project.id, project.to_document())

    def _project(self, project_id: str) -> Project:
        project = self._projects.get(project_id.lower())
        if project is None:
            raise errors.project_not_found()
        return project

    def _tag(self, project: Project, tag_id: str) -> Tag:
        tag = project.tags.get(tag_id.lower())
        if tag is None:
            raise errors.tag_not_found()
        return tag

    def _iteration(self, project: Project, iteration_id: str) -> Iteration:
        iteration = project.iterations.get(iteration_id.lower())
        if iteration is None:
            raise errors.iteration_not_found()
        return iteration

    # ----- domains -----

    def domains(self) -> list[Domain]:
        return list(DOMAINS)

    def domain(self, domain_id: str) -> Domain:
        domain = find_domain(domain_id)
        if domain is None:
            raise errors.domain_not_found()
        return domain

    # ----- projects -----

    def projects(self) -> list[Project]:
        with self.lock:
            return list(self._projects.values())

    def project(self, project_id: str) -> Project:
        with self.lock:
            return self._project(project_id)

    def create_project(
        self,
        name: str | None,
        description: str | None = None,
        domain_id: str | None = None,
        classification_type: str | None = None,
        target_export_platforms: Sequence[str] = (),
    ) -> Project:
        name = check_project_name(name)
        domain = self._domain_for_project(domain_id or GENERAL_CLASSIFICATION)
        classification = check_classification_type(classification_type or "Multiclass")
        with self.lock:
            if self.tier and len(self._projects) >= self.tier.max_projects:
                raise BadRequest(
                    "BadRequestExceedProjectLimit",
                    f"The {self.tier.name} tier allows {self.tier.max_projects} projects; delete one first",
                )
            now = utc_now()
            project = Project(
                id=new_id(),
                name=name,
                description=description or "",
                domain_id=domain.id,
                classification_type=classification,
                created=now,
                last_modified=now,
                target_export_platforms=list(target_export_platforms),
            )
            self._projects[project.id] = project
            self._save(project)
            return project

    def update_project(
        self,
        project_id: str,
        name: str | None,
        description: str | None,
        domain_id: str | None,
        classification_type: str | None,
        image_processing_settings: dict | None,
    ) -> Project:
        with self.lock:
            project = self._project(project_id)
            new_name = check_project_name(name) if name is not None else project.name
            domain = self._domain_for_project(domain_id) if domain_id else self.domain(project.domain_id)
            if domain.type != self.domain(project.domain_id).type:
                raise BadRequest(
                    "BadRequestProjectUnsupportedDomainTypeChange",
                    "A project cannot change between classification and object detection domains",
                )
            classification = (
                check_classification_type(classification_type)
                if classification_type
                else project.classification_type
            )
            project.name, project.domain_id, project.classification_type = new_name, domain.id, classification
            if description is not None:
                project.description = description
            if image_processing_settings is not None:
                project.image_processing_settings = image_processing_settings
            self._save(project)
            return project

    def delete_project(self, project_id: str) -> None:
        with self.lock:
            project = self._project(project_id)
            del self._projects[project.id]
            for iteration_id in project.iterations:
                self.engine.forget(iteration_id)
            self.store.delete_project(project.id)

    def _domain_for_project(self, domain_id: str) -> Domain:
        domain = find_domain(domain_id)
        if domain is None:
            raise BadRequest(
                "BadRequestProjectUnknownDomain", f"Unknown domain id '{domain_id}': see GET /domains"
            )
        return domain

    # ----- tags -----

    def tags(self, project_id: str, iteration_id: str | None = None) -> list[tuple[Tag, int]]:
        with self.lock:
            project = self._project(project_id)
            if iteration_id:
                iteration = self._iteration(project, iteration_id)
                return [(_snapshot_tag(entry), entry.get("imageCount", 0)) for entry in iteration.tags]
            counts = project.tag_image_counts()
            return [(tag, counts.get(tag.id, 0)) for tag in project.tags.values()]

    def tag(self, project_id: str, tag_id: str, iteration_id: str | None = None) -> tuple[Tag, int]:
        for tag, count in self.tags(project_id, iteration_id):
            if tag.id == tag_id.lower():
                return tag, count
        raise errors.tag_not_found()

    def create_tag(
        self, project_id: str, name: str | None, description: str | None, tag_type: str | None
    ) -> Tag:
        with self.lock:
            project = self._project(project_id)
            name = self._check_tag_name(project, name, None)
            tag_type = self._check_tag_type(project, tag_type or "Regular", None)
            if self.tier and len(project.tags) >= self.tier.max_tags:
                raise BadRequest(
                    "BadRequestExceedTagPerProjectLimit",
                    f"The {self.tier.name} tier allows {self.tier.max_tags} tags per project",
                )
            tag = Tag(new_id(), name, description or "", tag_type, utc_now())
            project.tags[tag.id] = tag
            self._save(project)
            return tag

    def update_tag(
        self, project_id: str, tag_id: str, name: str | None, description: str | None, tag_type: str | None
    ) -> tuple[Tag, int]:
        with self.lock:
            project = self._project(project_id)
            tag = self._tag(project, tag_id)
            if name is not None:
                tag.name = self._check_tag_name(project, name, tag.id)
            if tag_type is not None:
                tag.type = self._check_tag_type(project, tag_type, tag.id)
            if description is not None:
                tag.description = description
            self._save(project)
            return tag, project.tag_image_counts().get(tag.id, 0)

    def delete_tag(self, project_id: str, tag_id: str) -> None:
        with self.lock:
            project = self._project(project_id)
            tag = self._tag(project, tag_id)
            del project.tags[tag.id]
            for image in project.images.values():
                image.tags.pop(tag.id, None)
            self._save(project)

    @staticmethod
    def _check_tag_name(project: Project, name: str | None, own_id: str | None) -> str:
        name = (name or "").strip()
        if not name or len(name) > 256:
            raise BadRequest("BadRequestTagName", "A tag name must have 1 to 256 characters")
        for tag in project.tags.values():
            if tag.id != own_id and tag.name.lower() == name.lower():
                raise BadRequest(
                    "BadRequestTagNameNotUnique", f"The project already has a tag named '{name}'"
                )
        return name

    @staticmethod
    def _check_tag_type(project: Project, tag_type: str, own_id: str | None) -> str:
        for known in TAG_TYPES:
            if tag_type.lower() == known.lower():
                tag_type = known
                break
        else:
            raise BadRequest(
                "BadRequestTagType", f"Tag type '{tag_type}' is not one of {', '.join(TAG_TYPES)}"
            )
        if tag_type != "Regular":
            for tag in project.tags.values():
                if tag.id != own_id and tag.type == tag_type:
                    code = (
                        "BadRequestMultipleNegativeTag"
                        if tag_type == "Negative"
                        else "BadRequestMultipleGeneralProductTag"
                    )
                    raise BadRequest(code, f"The project already has a {tag_type} tag")
        return tag_type

    # ----- images -----

    def add_images(
        self,
        project_id: str,
        uploads: Sequence[Upload],
        tag_ids: Sequence[str] = (),
        metadata: dict | None = None,
    ) -> tuple[list[UploadResult], bool]:
        """Add a batch of images; one result per image, and whether all of them were created."""
        check_batch_size(len(uploads))
        metadata = check_metadata(metadata or {})
        checked = []
        for upload in uploads:  # decoding checks run outside the lock
            try:
                checked.append((upload, inspect_image(upload.data, MAX_TRAINING_IMAGE_BYTES), None))
            except ImageRejected as rejected:
                checked.append((upload, None, rejected.status))
        results: list[UploadResult] = []
        with self.lock:
            project = self._project(project_id)
            by_hash = {image.sha256: image for image in project.images.values()}
            for upload, info, failure in checked:
                wanted = [tag_id.lower() for tag_id in (*tag_ids, *upload.tag_ids)]
                wanted = list(dict.fromkeys(wanted))
                if failure is None and any(tag_id not in project.tags for tag_id in wanted):
                    failure = "ErrorInvalidTag"
                if failure is None and len(wanted) > MAX_TAGS_PER_IMAGE:
                    failure = "ErrorTagLimitExceed"
                if failure is None and self.tier and len(project.images) >= self.tier.max_images:
                    failure = "ErrorLimitExceed"
                if failure is not None:
                    results.append(UploadResult(upload.source, failure))
                    continue
                sha = hashlib.sha256(upload.data).hexdigest()
                if sha in by_hash:
                    results.append(UploadResult(upload.source, "OKDuplicate", by_hash[sha]))
                    continue
                now = utc_now()
                image = Image(
                    new_id(), now, info.width, info.height, sha, info.format, dict.fromkeys(wanted, now)
                )
                image.metadata = dict(metadata)
                self.store.put_image(project.id, sha, upload.data)
                project.images[image.id] = image
                by_hash[sha] = image
                results.append(UploadResult(upload.source, "OK", image))
            if any(result.status == "OK" for result in results):
                self._save(project)
        return results, all(result.status == "OK" for result in results)

    def images(self, project_id: str, query: ImageQuery, take: int, skip: int) -> tuple[Project, list[Image]]:
        with self.lock:
            project = self._project(project_id)
            found = self._select(project, query)
            return project, found[skip : skip + take]

    def image_count(self, project_id: str, query: ImageQuery) -> int:
        with self.lock:
            return len(self._select(self._project(project_id), query))

    def images_by_ids(self, project_id: str, image_ids: Iterable[str]) -> tuple[Project, list[Image]]:
        with self.lock:
            project = self._project(project_id)
            return project, [project.images[i.lower()] for i in image_ids if i.lower() in project.images]

    def _select(self, project: Project, query: ImageQuery) -> list[Image]:
        images: Iterable[Image] = project.images.values()
        if query.iteration_id:
            iteration = self._iteration(project, query.iteration_id)
            members = {entry[0] for entry in iteration.training_set}
            images = [image for image in images if image.id in members]
        status = (query.tagging_status or "All").lower()
        if status == "tagged":
            images = [image for image in images if image.tags]
        elif status == "untagged":
            images = [image for image in images if not image.tags]
        elif status != "all":
            raise BadRequest(
                "BadRequest", f"taggingStatus '{query.tagging_status}' is not All, Tagged or Untagged"
            )
        if query.tag_ids:
            wanted = {tag_id.lower() for tag_id in query.tag_ids}
            images = [image for image in images if wanted.intersection(image.tags)]
        order = (query.order_by or "Newest").lower()
        if order not in ("newest", "oldest"):
            raise BadRequest("BadRequest", f"orderBy '{query.order_by}' is not Newest or Oldest")
        images = list(images)
        return images[::-1] if order == "newest" else images

    def delete_images(self, project_id: str, image_ids: Sequence[str], all_images: bool) -> None:
        with self.lock:
            project = self._project(project_id)
            doomed = list(project.images) if all_images else [i.lower() for i in image_ids]
            removed = [project.images.pop(image_id) for image_id in doomed if image_id in project.images]
            if not removed:
                return
            kept = {image.sha256 for image in project.images.values()}
            for iteration in project.iterations.values():
                if iteration.status == "Training":
                    kept.update(entry[1] for entry in iteration.training_set)
            self._save(project)
            for image in removed:
                if image.sha256 not in kept:
                    self.store.delete_image(project.id, image.sha256)

    def update_metadata(
        self, project_id: str, image_ids: Sequence[str], metadata: dict
    ) -> tuple[list[MetadataResult], bool]:
        metadata = check_metadata(metadata)
        results = []
        with self.lock:
            project = self._project(project_id)
            for image_id in image_ids:
                image = project.images.get(image_id.lower())
                if image is None:
                    results.append(MetadataResult(image_id, "ErrorImageNotFound"))
                elif len({**image.metadata, **metadata}) > MAX_METADATA_PAIRS:
                    results.append(MetadataResult(image_id, "ErrorLimitExceed", image.metadata))
                else:
                    image.metadata.update(metadata)
                    results.append(MetadataResult(image.id, "OK", dict(image.metadata)))
            self._save(project)
        return results, all(result.status == "OK" for result in results)

    def tag_images(
        self, project_id: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[str, list[tuple[str, str]]]:
        """Add (image id, tag id) pairs: which were created, which existed, which went over the limit."""
        summary: dict[str, list[tuple[str, str]]] = {"created": [], "duplicated": [], "exceeded": []}
        with self.lock:
            project = self._project(project_id)
            for image_id, tag_id in pairs:
                image = project.images.get(image_id.lower())
                if image is None:
                    raise NotFound("NotFoundImage", f"Image '{image_id}' not found")
                tag = self._tag(project, tag_id)
                if tag.id in image.tags:
                    summary["duplicated"].append((image.id, tag.id))
                elif len(image.tags) >= MAX_TAGS_PER_IMAGE:
                    summary["exceeded"].append((image.id, tag.id))
                else:
                    image.tags[tag.id] = utc_now()
                    summary["created"].append((image.id, tag.id))
            self._save(project)
        return summary

    def untag_images(self, project_id: str, image_ids: Sequence[str], tag_ids: Sequence[str]) -> None:
        with self.lock:
            project = self._project(project_id)
            for image_id in image_ids:
                image = project.images.get(image_id.lower())
                for tag_id in tag_ids:
                    if image is not None:
                        image.tags.pop(tag_id.lower(), None)
            self._save(project)

    # ----- training -----

    def train(
        self,
        project_id: str,
        training_type: str | None = None,
        reserved_budget_in_hours: int = 0,
        force: bool = False,
        notification_email: str | None = None,
        selected_tags: Sequence[str] | None = None,
    ) -> Iteration:
        training_type = check_training_type(training_type or "Regular")
        if training_type == "Advanced" and reserved_budget_in_hours < 1:
            raise BadRequest(
                "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining",
                "Advanced training needs reservedBudgetInHours of 1 or more",
            )
        if notification_email and not EMAIL.match(notification_email):
            raise BadRequest(
                "BadRequestInvalidEmailAddress", f"'{notification_email}' is not an email address"
            )
        with self.lock:
            project = self._project(project_id)
            if self.domain(project.domain_id).type != "Classification":
                raise BadRequest(
                    "BadRequestUnsupportedDomain", "localvision trains classification projects only"
                )
            if any(iteration.status == "Training" for iteration in project.iterations.values()):
                raise BadRequest("BadRequestTrainingAlreadyInProgress", "The project is already training")
            if len(project.iterations) >= MAX_ITERATIONS:
                raise BadRequest(
                    "BadRequestExceedIterationPerProjectLimit",
                    f"The project has {MAX_ITERATIONS} iterations, the limit: delete an old one first",
                )
            tags, training_set = self._training_set(project, selected_tags)
            fingerprint = _fingerprint(project, tags, training_set)
            latest = _latest_completed(project)
            if not force and latest is not None and latest.fingerprint == fingerprint:
                raise BadRequest(
                    "BadRequestTrainingNotNeeded",
                    "Nothing changed since the last training: add or retag images, or pass forceTrain=true",
                )
            project.iteration_counter += 1
            now = utc_now()
            iteration = Iteration(
                id=new_id(),
                name=f"Iteration {project.iteration_counter}",
                number=project.iteration_counter,
                status="Training",
                created=now,
                last_modified=now,
                project_id=project.id,
                domain_id=project.domain_id,
                classification_type=project.classification_type,
                training_type=training_type,
                reserved_budget_in_hours=reserved_budget_in_hours,
                fingerprint=fingerprint,
                tags=tags,
                training_set=training_set,
            )
            project.iterations[iteration.id] = iteration
            self._save(project)
        self.trainer.submit(project.id, iteration.id)
        return iteration

    def _training_set(
        self, project: Project, selected_tags: Sequence[str] | None
    ) -> tuple[list[dict], list[tuple[str, str, list[int]]]]:
        """The tags with enough images (in model output order) and each trainable image's tag indices."""
        counts = project.tag_image_counts()
        candidates = list(project.tags.values())
        if selected_tags:
            wanted = {tag_id.lower() for tag_id in selected_tags}
            unknown = wanted - set(project.tags)
            if unknown:
                raise BadRequest(
                    "BadRequestInvalidIds", f"Unknown tag ids in selectedTags: {', '.join(unknown)}"
                )
            candidates = [tag for tag in candidates if tag.id in wanted]
        tags = [tag for tag in candidates if counts.get(tag.id, 0) >= MIN_IMAGES_PER_TAG]
        if len(tags) < 2:
            summary = ", ".join(f"{tag.name}={counts.get(tag.id, 0)}" for tag in candidates)
            raise BadRequest(
                "BadRequestTrainingValidationFailed",
                f"Not enough images for training: at least 2 tags need {MIN_IMAGES_PER_TAG} or more images "
                f"each (tag image counts: {summary or 'no tags'})",
            )
        index = {tag.id: position for position, tag in enumerate(tags)}
        training_set = []
        for image in project.images.values():
            labels = sorted(index[tag_id] for tag_id in image.tags if tag_id in index)
            if not labels:
                continue
            if project.classification_type == "Multiclass" and len(labels) > 1:
                raise BadRequest(
                    "BadRequestMultiClassClassificationTrainingValidationFailed",
                    f"Image {image.id} has {len(labels)} tags; a Multiclass project allows one tag per image",
                )
            training_set.append((image.id, image.sha256, labels))
        snapshot = [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "type": t.type,
                "imageCount": counts[t.id],
            }
            for t in tags
        ]
        return snapshot, training_set

    def training_job(self, project_id: str, iteration_id: str) -> TrainingJob | None:
        """The snapshot an iteration trains on, or None if it was deleted or is not training."""
        with self.lock:
            project = self._projects.get(project_id)
            iteration = project.iterations.get(iteration_id) if project else None
            if iteration is None or iteration.status != "Training":
                return None
            return TrainingJob(
                project_id=project_id,
                iteration_id=iteration_id,
                image_hashes=[sha for _, sha, _ in iteration.training_set],
                labels=[list(labels) for _, _, labels in iteration.training_set],
                num_tags=len(iteration.tags),
                multilabel=iteration.classification_type == "Multilabel",
                advanced=iteration.training_type == "Advanced",
            )

    def finish_training(
        self, project_id: str, iteration_id: str, error: str | None, seconds: float = 0.0
    ) -> None:
        with self.lock:
            project = self._projects.get(project_id)
            iteration = project.iterations.get(iteration_id) if project else None
            if iteration is None:  # deleted while training
                self.engine.forget(iteration_id)
                return
            now = utc_now()
            iteration.status = "Failed" if error else "Completed"
            iteration.training_error_details = error
            iteration.last_modified = now
            if not error:
                iteration.trained_at = now
                iteration.training_time_in_minutes = max(1, math.ceil(seconds / 60))
            self._save(project)

    # ----- iterations -----

    def iterations(self, project_id: str) -> list[Iteration]:
        with self.lock:
            return list(self._project(project_id).iterations.values())

    def iteration(self, project_id: str, iteration_id: str) -> Iteration:
        with self.lock:
            return self._iteration(self._project(project_id), iteration_id)

    def rename_iteration(self, project_id: str, iteration_id: str, name: str | None) -> Iteration:
        name = (name or "").strip()
        if not name:
            raise BadRequest("BadRequestIterationName", "An iteration name must not be empty")
        with self.lock:
            project = self._project(project_id)
            iteration = self._iteration(project, iteration_id)
            if any(other.name == name and other.id != iteration.id for other in project.iterations.values()):
                raise BadRequest("BadRequestIterationNameNotUnique", f"Another iteration is named '{name}'")
            iteration.name = name
            iteration.last_modified = utc_now()
            self._save(project)
            return iteration

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        with self.lock:
            project = self._project(project_id)
            iteration = self._iteration(project, iteration_id)
            if iteration.publish_name:
                raise BadRequest(
                    "BadRequestIterationIsPublished",
                    f"The iteration is published as '{iteration.publish_name}': unpublish it first",
                )
            del project.iterations[iteration.id]
            self._save(project)
            self.engine.forget(iteration.id)
            self.store.delete_iteration(project.id, iteration.id)

    def publish(
        self,
        project_id: str,
        iteration_id: str,
        publish_name: str | None,
        prediction_id: str | None,
        overwrite: bool,
    ) -> None:
        publish_name = (publish_name or "").strip()
        if not publish_name or len(publish_name) > 256 or any(ord(c) < 32 for c in publish_name):
            raise BadRequest(
                "BadRequestInvalidPublishName", "publishName must have 1 to 256 printable characters"
            )
        if not prediction_id or not PREDICTION_RESOURCE_ID.match(prediction_id):
            raise BadRequest(
                "BadRequestInvalidPublishTarget",
                "predictionId must be the resource id of a prediction resource: /subscriptions/{sub}/"
                "resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}",
            )
        with self.lock:
            project = self._project(project_id)
            iteration = self._iteration(project, iteration_id)
            if iteration.status != "Completed":
                raise BadRequest(
                    "BadRequestIterationIsNotTrained", f"The iteration is {iteration.status}, not Completed"
                )
            holder = _published(project, publish_name)
            if holder is not None and holder.id != iteration.id:
                if not overwrite:
                    raise BadRequest(
                        "BadRequestInvalidPublishName",
                        f"'{publish_name}' is already published from {holder.name}: unpublish it first "
                        "or pass overwrite=true",
                    )
                holder.publish_name, holder.original_publish_resource_id = "", ""
            iteration.publish_name = publish_name
            iteration.original_publish_resource_id = prediction_id
            iteration.last_modified = utc_now()
            self._save(project)

    def unpublish(self, project_id: str, iteration_id: str) -> None:
        with self.lock:
            project = self._project(project_id)
            iteration = self._iteration(project, iteration_id)
            if not iteration.publish_name:
                raise BadRequest("BadRequestIterationNotPublished", "The iteration is not published")
            iteration.publish_name, iteration.original_publish_resource_id = "", ""
            iteration.last_modified = utc_now()
            self._save(project)

    def performance(
        self, project_id: str, iteration_id: str, threshold: float
    ) -> tuple[Iteration, Performance]:
        if not 0.0 <= threshold <= 1.0:
            raise BadRequest("BadRequest", "threshold must be between 0 and 1")
        with self.lock:
            project = self._project(project_id)
            iteration = self._iteration(project, iteration_id)
            if iteration.status != "Completed":
                raise NotFound(
                    "NotFoundIterationPerformance", f"The iteration is {iteration.status}: no performance yet"
                )
        model_dir = self.store.iteration_dir(project.id, iteration.id)
        return iteration, self.engine.performance(iteration.id, model_dir, threshold)

    # ----- prediction -----

    def quick_test(self, project_id: str, iteration_id: str | None, data: bytes) -> PredictionResult:
        with self.lock:
            project = self._project(project_id)
            if iteration_id:
                iteration = self._iteration(project, iteration_id)
                if iteration.status != "Completed":
                    raise BadRequest(
                        "BadRequestIterationIsNotTrained", f"The iteration is {iteration.status}"
                    )
            else:
                iteration = _latest_completed(project)
                if iteration is None:
                    raise NotFound("NotFoundProjectDefaultIteration", "The project has no trained iteration")
        return self._predict(project, iteration, data, MAX_TRAINING_IMAGE_BYTES)

    def published_iteration(
        self, project_id: str, published_name: str, kind: str
    ) -> tuple[Project, Iteration]:
        with self.lock:
            project = self._project(project_id)
            domain_type = self.domain(project.domain_id).type
            if (kind == "detect") != (domain_type == "ObjectDetection"):
                raise BadRequest(
                    "BadRequestNotSupported",
                    f"This is a {domain_type} project: use the "
                    f"{'detect' if domain_type == 'ObjectDetection' else 'classify'} operations",
                )
            iteration = _published(project, published_name)
            if iteration is None:
                raise errors.iteration_not_found()
            return project, iteration

    def predict(
        self, project_id: str, published_name: str, kind: str, data: bytes, max_bytes: int
    ) -> PredictionResult:
        project, iteration = self.published_iteration(project_id, published_name, kind)
        return self._predict(project, iteration, data, max_bytes)

    def _predict(
        self, project: Project, iteration: Iteration, data: bytes, max_bytes: int
    ) -> PredictionResult:
        try:
            inspect_image(data, max_bytes, decode=False)
        except ImageRejected as rejected:
            raise BadRequest(rejected.code, rejected.message) from None
        model_dir = self.store.iteration_dir(project.id, iteration.id)
        try:
            probabilities = self.engine.predict(iteration.id, model_dir, data)
        except ValueError as error:
            raise BadRequest("BadRequestImageFormat", str(error)) from None
        order = np.argsort(-probabilities, kind="stable")
        predictions = [TagPrediction(float(probabilities[i]), iteration.tags[i]) for i in order]
        return PredictionResult(new_id(), project.id, iteration.id, utc_now(), predictions)


def _fingerprint(project: Project, tags: list[dict], training_set: list[tuple[str, str, list[int]]]) -> str:
    digest = hashlib.sha256(project.classification_type.encode())
    for tag in tags:
        digest.update(f"|tag:{tag['id']}".encode())
    for _, sha, labels in sorted(training_set, key=lambda entry: entry[1]):
        digest.update(f"|{sha}:{','.join(map(str, labels))}".encode())
    return digest.hexdigest()


def _latest_completed(project: Project) -> Iteration | None:
    done = [iteration for iteration in project.iterations.values() if iteration.status == "Completed"]
    return max(done, key=lambda iteration: iteration.number, default=None)


def _published(project: Project, publish_name: str) -> Iteration | None:
    for iteration in project.iterations.values():
        if iteration.publish_name and iteration.publish_name == publish_name:
            return iteration
    return None


def _snapshot_tag(entry: dict) -> Tag:
    return Tag(entry["id"], entry["name"], entry.get("description", ""), entry.get("type", "Regular"), "")
