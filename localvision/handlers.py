"""One function per operation: read the call (``responses``), act (``models``), shape the reply."""

from __future__ import annotations

from localvision import responses as wire
from localvision.exceptions import BadRequest, required
from localvision.limits import (
    MAX_PREDICTION_IMAGE_BYTES,
    MAX_TAGS_PER_BATCH,
    MAX_TAKE,
    MAX_TRAINING_IMAGE_BYTES,
)
from localvision.models import Backend, ImageQuery, Upload
from localvision.responses import Call, Reply
from localvision.urlfetch import fetch_image
from localvision.validation import check_batch_size


class Handlers:
    def __init__(self, backend: Backend, allow_private_urls: bool = False) -> None:
        self.backend = backend
        self.allow_private_urls = allow_private_urls

    # ----- domains and projects -----

    def get_domains(self, call: Call) -> Reply:
        return Reply(200, [wire.domain_json(domain) for domain in self.backend.domains()])

    def get_domain(self, call: Call) -> Reply:
        return Reply(200, wire.domain_json(self.backend.domain(call.params["domainId"])))

    def get_projects(self, call: Call) -> Reply:
        return Reply(200, [wire.project_json(project) for project in self.backend.projects()])

    def create_project(self, call: Call) -> Reply:
        wire.json_body(call)  # optional CreateProjectOptions: accepted, nothing to do locally
        query = call.query
        project = self.backend.create_project(
            query.text("name"),
            query.text("description"),
            query.text("domainId"),
            query.text("classificationType"),
            query.csv("targetExportPlatforms"),
        )
        return Reply(200, wire.project_json(project))

    def get_project(self, call: Call) -> Reply:
        return Reply(200, wire.project_json(self.backend.project(call.params["projectId"])))

    def update_project(self, call: Call) -> Reply:
        body = wire.json_object(call)
        settings = body.get("settings") or {}
        project = self.backend.update_project(
            call.params["projectId"],
            body.get("name"),
            body.get("description"),
            settings.get("domainId"),
            settings.get("classificationType"),
            settings.get("imageProcessingSettings"),
        )
        return Reply(200, wire.project_json(project))

    def delete_project(self, call: Call) -> Reply:
        self.backend.delete_project(call.params["projectId"])
        return Reply(204)

    # ----- tags -----

    def get_tags(self, call: Call) -> Reply:
        tags = self.backend.tags(call.params["projectId"], call.query.text("iterationId"))
        return Reply(200, [wire.tag_json(tag, count) for tag, count in tags])

    def get_tag(self, call: Call) -> Reply:
        tag, count = self.backend.tag(
            call.params["projectId"], call.params["tagId"], call.query.text("iterationId")
        )
        return Reply(200, wire.tag_json(tag, count))

    def create_tag(self, call: Call) -> Reply:
        query = call.query
        tag = self.backend.create_tag(
            call.params["projectId"], query.text("name"), query.text("description"), query.text("type")
        )
        return Reply(200, wire.tag_json(tag, 0))

    def update_tag(self, call: Call) -> Reply:
        body = wire.json_object(call)
        tag, count = self.backend.update_tag(
            call.params["projectId"],
            call.params["tagId"],
            body.get("name"),
            body.get("description"),
            body.get("type"),
        )
        return Reply(200, wire.tag_json(tag, count))

    def delete_tag(self, call: Call) -> Reply:
        self.backend.delete_tag(call.params["projectId"], call.params["tagId"])
        return Reply(204)

    # ----- images -----

    def _upload_reply(self, project_id: str, uploads: list[Upload], tag_ids=(), metadata=None) -> Reply:
        with self.backend.lock:
            results, all_ok = self.backend.add_images(project_id, uploads, tag_ids, metadata)
            body = wire.upload_summary(self.backend.project(project_id), results, all_ok)
        return Reply(200 if all_ok else 207, body)

    def create_images_from_data(self, call: Call) -> Reply:
        tag_ids = call.query.csv("tagIds", MAX_TAGS_PER_BATCH)
        uploads = [Upload(f'"{name}"' if name else "", data) for name, data in wire.image_uploads(call)]
        return self._upload_reply(call.params["projectId"], uploads, tag_ids)

    def create_images_from_files(self, call: Call) -> Reply:
        batch = wire.json_object(call)
        uploads = []
        for entry in batch.get("images") or []:
            try:
                data = wire.decode_base64(entry.get("contents") or "")
            except ValueError:
                raise BadRequest(
                    "BadRequestImageBatch", f"Image '{entry.get('name')}' contents is not base64"
                ) from None
            uploads.append(Upload(f'"{entry.get("name") or ""}"', data, list(entry.get("tagIds") or [])))
        return self._upload_reply(
            call.params["projectId"], uploads, batch.get("tagIds") or [], batch.get("metadata")
        )

    def create_images_from_urls(self, call: Call) -> Reply:
        batch = wire.json_object(call)
        entries = batch.get("images") or []
        check_batch_size(len(entries))
        uploads = []
        for entry in entries:
            url = entry.get("url") or ""
            try:
                data = self._fetch(url, MAX_TRAINING_IMAGE_BYTES)
            except BadRequest:
                data = b""
            uploads.append(Upload(url, data, list(entry.get("tagIds") or [])))
        return self._upload_reply(
            call.params["projectId"], uploads, batch.get("tagIds") or [], batch.get("metadata")
        )

    def _image_query(self, call: Call, tagging_status: str | None = None) -> ImageQuery:
        return ImageQuery(
            iteration_id=call.query.text("iterationId"),
            tag_ids=call.query.csv("tagIds"),
            tagging_status=tagging_status or call.query.text("taggingStatus"),
            order_by=call.query.text("orderBy"),
        )

    def _images_reply(self, call: Call, tagging_status: str | None = None) -> Reply:
        take, skip = call.query.integer("take", 50), call.query.integer("skip", 0)
        if not 0 <= take <= MAX_TAKE or skip < 0:
            raise BadRequest("BadRequest", f"take must be 0 to {MAX_TAKE} and skip 0 or more")
        query = self._image_query(call, tagging_status)
        with self.backend.lock:
            project, images = self.backend.images(call.params["projectId"], query, take, skip)
            return Reply(200, [wire.image_json(project, image) for image in images])

    def get_images(self, call: Call) -> Reply:
        return self._images_reply(call)

    def get_tagged_images(self, call: Call) -> Reply:
        return self._images_reply(call, "Tagged")

    def get_untagged_images(self, call: Call) -> Reply:
        return self._images_reply(call, "Untagged")

    def get_image_count(self, call: Call) -> Reply:
        return Reply(200, self.backend.image_count(call.params["projectId"], self._image_query(call)))

    def get_tagged_image_count(self, call: Call) -> Reply:
        return Reply(
            200, self.backend.image_count(call.params["projectId"], self._image_query(call, "Tagged"))
        )

    def get_untagged_image_count(self, call: Call) -> Reply:
        return Reply(
            200, self.backend.image_count(call.params["projectId"], self._image_query(call, "Untagged"))
        )

    def get_images_by_ids(self, call: Call) -> Reply:
        image_ids = call.query.csv("imageIds", 256)
        with self.backend.lock:
            project, images = self.backend.images_by_ids(call.params["projectId"], image_ids)
            return Reply(200, [wire.image_json(project, image) for image in images])

    def delete_images(self, call: Call) -> Reply:
        all_images = call.query.flag("allImages") or call.query.flag("allIterations")
        image_ids = call.query.csv("imageIds", 256)
        if not all_images and not image_ids:
            raise required("imageIds")
        self.backend.delete_images(call.params["projectId"], image_ids, all_images)
        return Reply(202 if all_images else 204)

    def update_image_metadata(self, call: Call) -> Reply:
        image_ids = call.query.csv("imageIds", 256)
        if not image_ids:
            raise required("imageIds")
        results, all_ok = self.backend.update_metadata(
            call.params["projectId"], image_ids, wire.json_object(call)
        )
        return Reply(200 if all_ok else 207, wire.metadata_summary(results, all_ok))

    def create_image_tags(self, call: Call) -> Reply:
        entries = wire.json_object(call).get("tags") or []
        pairs = [(str(entry.get("imageId", "")), str(entry.get("tagId", ""))) for entry in entries]
        summary = self.backend.tag_images(call.params["projectId"], pairs)
        return Reply(
            200, {key: [{"imageId": i, "tagId": t} for i, t in pairs] for key, pairs in summary.items()}
        )

    def delete_image_tags(self, call: Call) -> Reply:
        image_ids, tag_ids = call.query.csv("imageIds", 64), call.query.csv("tagIds", 20)
        if not image_ids or not tag_ids:
            raise required("imageIds" if not image_ids else "tagIds")
        self.backend.untag_images(call.params["projectId"], image_ids, tag_ids)
        return Reply(204)

    # ----- training and iterations -----

    def train_project(self, call: Call) -> Reply:
        body = wire.json_object(call)
        if body.get("customBaseModelInfo"):
            raise BadRequest("BadRequestNotSupported", "Training from a custom base model is not supported")
        iteration = self.backend.train(
            call.params["projectId"],
            call.query.text("trainingType"),
            call.query.integer("reservedBudgetInHours", 0),
            call.query.flag("forceTrain"),
            call.query.text("notificationEmailAddress"),
            body.get("selectedTags"),
        )
        return Reply(200, wire.iteration_json(iteration))

    def get_iterations(self, call: Call) -> Reply:
        return Reply(
            200, [wire.iteration_json(it) for it in self.backend.iterations(call.params["projectId"])]
        )

    def get_iteration(self, call: Call) -> Reply:
        iteration = self.backend.iteration(call.params["projectId"], call.params["iterationId"])
        return Reply(200, wire.iteration_json(iteration))

    def update_iteration(self, call: Call) -> Reply:
        name = wire.json_object(call).get("name")
        iteration = self.backend.rename_iteration(call.params["projectId"], call.params["iterationId"], name)
        return Reply(200, wire.iteration_json(iteration))

    def delete_iteration(self, call: Call) -> Reply:
        self.backend.delete_iteration(call.params["projectId"], call.params["iterationId"])
        return Reply(204)

    def publish_iteration(self, call: Call) -> Reply:
        self.backend.publish(
            call.params["projectId"],
            call.params["iterationId"],
            call.query.text("publishName"),
            call.query.text("predictionId"),
            call.query.flag("overwrite"),
        )
        return Reply(200, True)

    def unpublish_iteration(self, call: Call) -> Reply:
        self.backend.unpublish(call.params["projectId"], call.params["iterationId"])
        return Reply(204)

    def get_iteration_performance(self, call: Call) -> Reply:
        iteration, performance = self.backend.performance(
            call.params["projectId"], call.params["iterationId"], call.query.number("threshold", 0.5)
        )
        return Reply(200, wire.performance_json(iteration, performance))

    def quick_test_image(self, call: Call) -> Reply:
        result = self.backend.quick_test(
            call.params["projectId"], call.query.text("iterationId"), wire.one_image(call)
        )
        return Reply(200, wire.prediction_json(result))

    def quick_test_image_url(self, call: Call) -> Reply:
        data = self._fetch(wire.image_url(call), MAX_TRAINING_IMAGE_BYTES)
        result = self.backend.quick_test(call.params["projectId"], call.query.text("iterationId"), data)
        return Reply(200, wire.prediction_json(result))

    def not_supported(self, call: Call) -> Reply:
        raise BadRequest(
            "BadRequestNotSupported",
            "localvision does not implement this operation (see docs/localvision.md)",
        )

    # ----- prediction -----

    def _predict(self, call: Call, kind: str, data: bytes) -> Reply:
        result = self.backend.predict(
            call.params["projectId"], call.params["publishedName"], kind, data, MAX_PREDICTION_IMAGE_BYTES
        )
        return Reply(200, wire.prediction_json(result))

    def classify_image(self, call: Call) -> Reply:
        return self._predict(call, "classify", wire.one_image(call))

    def classify_image_url(self, call: Call) -> Reply:
        url = wire.image_url(call)
        self.backend.published_iteration(call.params["projectId"], call.params["publishedName"], "classify")
        return self._predict(call, "classify", self._fetch(url, MAX_PREDICTION_IMAGE_BYTES))

    def detect(self, call: Call) -> Reply:
        """Object detection: the service's answer for a classification project, else not supported."""
        self.backend.published_iteration(call.params["projectId"], call.params["publishedName"], "detect")
        raise BadRequest("BadRequestNotSupported", "localvision does not implement object detection")

    def _fetch(self, url: str, max_bytes: int) -> bytes:
        return fetch_image(url, allow_private=self.allow_private_urls, max_bytes=max_bytes)
