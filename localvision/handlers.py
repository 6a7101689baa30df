"""One method per operation: read the call (``wire``), act on the state, shape the reply."""

from __future__ import annotations

from localvision import exceptions as errors
from localvision import files
from localvision.files import ImageLinks
from localvision.limits import (
    MAX_PREDICTION_IMAGE_BYTES,
    MAX_TAGS_PER_BATCH,
    MAX_TAKE,
    MAX_TRAINING_IMAGE_BYTES,
)
from localvision.signing import UrlSigner
from localvision.state import Backend
from localvision.state.images import ImageQuery, Upload
from localvision.state.validation import check_batch_size
from localvision.state.views import ImagePerformance
from localvision.urlfetch import fetch_image
from localvision.wire import bodies
from localvision.wire import replies as shape
from localvision.wire.replies import Reply
from localvision.wire.requests import Call, decode_base64


class Handlers:
    def __init__(self, backend: Backend, signer: UrlSigner, allow_private_urls: bool = False) -> None:
        self.backend = backend
        self.signer = signer
        self.allow_private_urls = allow_private_urls

    def _links(self, call: Call) -> ImageLinks:
        return ImageLinks(self.signer, call.base_url)

    # ----- domains and projects -----

    def get_domains(self, call: Call) -> Reply:
        return Reply(200, [shape.domain_json(domain) for domain in self.backend.projects.domains()])

    def get_domain(self, call: Call) -> Reply:
        return Reply(200, shape.domain_json(self.backend.projects.domain(call.params["domainId"])))

    def get_projects(self, call: Call) -> Reply:
        return Reply(200, [shape.project_json(project) for project in self.backend.projects.list()])

    def create_project(self, call: Call) -> Reply:
        bodies.create_project_options(call)
        query = call.query
        project = self.backend.projects.create(
            query.text("name"),
            query.text("description"),
            query.text("domainId"),
            query.text("classificationType"),
            query.csv("targetExportPlatforms"),
        )
        return Reply(200, shape.project_json(project))

    def get_project(self, call: Call) -> Reply:
        return Reply(200, shape.project_json(self.backend.projects.get(call.params["projectId"])))

    def update_project(self, call: Call) -> Reply:
        update = bodies.project_update(call)
        project = self.backend.projects.update(
            call.params["projectId"],
            update.name,
            update.description,
            update.domain_id,
            update.classification_type,
            update.image_processing_settings,
        )
        return Reply(200, shape.project_json(project))

    def delete_project(self, call: Call) -> Reply:
        self.backend.projects.delete(call.params["projectId"])
        return Reply(204)

    # ----- tags -----

    def get_tags(self, call: Call) -> Reply:
        tags = self.backend.tags.list(call.params["projectId"], call.query.text("iterationId"))
        return Reply(200, [shape.tag_json(tag) for tag in tags])

    def get_tag(self, call: Call) -> Reply:
        tag = self.backend.tags.get(
            call.params["projectId"], call.params["tagId"], call.query.text("iterationId")
        )
        return Reply(200, shape.tag_json(tag))

    def create_tag(self, call: Call) -> Reply:
        query = call.query
        tag = self.backend.tags.create(
            call.params["projectId"], query.text("name"), query.text("description"), query.text("type")
        )
        return Reply(200, shape.tag_json(tag))

    def update_tag(self, call: Call) -> Reply:
        update = bodies.tag_update(call)
        tag = self.backend.tags.update(
            call.params["projectId"], call.params["tagId"], update.name, update.description, update.type
        )
        return Reply(200, shape.tag_json(tag))

    def delete_tag(self, call: Call) -> Reply:
        self.backend.tags.delete(call.params["projectId"], call.params["tagId"])
        return Reply(204)

    # ----- images -----

    def _upload_reply(self, call: Call, uploads: list[Upload], tag_ids=(), metadata=None) -> Reply:
        results, all_ok = self.backend.images.add(call.params["projectId"], uploads, tag_ids, metadata)
        return Reply(200 if all_ok else 207, shape.upload_summary(results, all_ok, self._links(call)))

    def create_images_from_data(self, call: Call) -> Reply:
        tag_ids = call.query.csv("tagIds", MAX_TAGS_PER_BATCH)
        uploads = [Upload(f'"{name}"' if name else "", data) for name, data in call.images()]
        return self._upload_reply(call, uploads, tag_ids)

    def create_images_from_files(self, call: Call) -> Reply:
        batch = bodies.file_batch(call)
        uploads = []
        for entry in batch.entries:
            try:
                data = decode_base64(entry.contents)
            except ValueError:
                raise errors.NOT_BASE64.error(name=entry.name) from None
            uploads.append(Upload(f'"{entry.name}"', data, entry.tag_ids))
        return self._upload_reply(call, uploads, batch.tag_ids, batch.metadata)

    def create_images_from_urls(self, call: Call) -> Reply:
        batch = bodies.url_batch(call)
        check_batch_size(len(batch.entries))
        uploads = []
        for entry in batch.entries:
            try:
                data = self._fetch(entry.url, MAX_TRAINING_IMAGE_BYTES)
            except errors.ServiceError:
                data = b""  # answered per image as ErrorSource
            uploads.append(Upload(entry.url, data, entry.tag_ids))
        return self._upload_reply(call, uploads, batch.tag_ids, batch.metadata)

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
            raise errors.PAGING.error(max_take=MAX_TAKE)
        query = self._image_query(call, tagging_status)
        images = self.backend.images.list(call.params["projectId"], query, take, skip)
        links = self._links(call)
        return Reply(200, [shape.image_json(image, links) for image in images])

    def get_images(self, call: Call) -> Reply:
        return self._images_reply(call)

    def get_tagged_images(self, call: Call) -> Reply:
        return self._images_reply(call, "Tagged")

    def get_untagged_images(self, call: Call) -> Reply:
        return self._images_reply(call, "Untagged")

    def _count(self, call: Call, tagging_status: str | None = None) -> Reply:
        return Reply(
            200, self.backend.images.count(call.params["projectId"], self._image_query(call, tagging_status))
        )

    def get_image_count(self, call: Call) -> Reply:
        return self._count(call)

    def get_tagged_image_count(self, call: Call) -> Reply:
        return self._count(call, "Tagged")

    def get_untagged_image_count(self, call: Call) -> Reply:
        return self._count(call, "Untagged")

    def get_images_by_ids(self, call: Call) -> Reply:
        images = self.backend.images.by_ids(call.params["projectId"], call.query.csv("imageIds", 256))
        links = self._links(call)
        return Reply(200, [shape.image_json(image, links) for image in images])

    def delete_images(self, call: Call) -> Reply:
        all_images = call.query.flag("allImages") or call.query.flag("allIterations")
        image_ids = call.query.csv("imageIds", 256)
        if not all_images and not image_ids:
            raise errors.REQUIRED.error(name="imageIds")
        self.backend.images.delete(call.params["projectId"], image_ids, all_images)
        return Reply(202 if all_images else 204)

    def update_image_metadata(self, call: Call) -> Reply:
        image_ids = call.query.csv("imageIds", 256)
        if not image_ids:
            raise errors.REQUIRED.error(name="imageIds")
        results, all_ok = self.backend.images.update_metadata(
            call.params["projectId"], image_ids, bodies.metadata(call)
        )
        return Reply(200 if all_ok else 207, shape.metadata_summary(results, all_ok))

    def create_image_tags(self, call: Call) -> Reply:
        summary = self.backend.images.tag(call.params["projectId"], bodies.image_tag_pairs(call))
        return Reply(
            200, {key: [{"imageId": i, "tagId": t} for i, t in pairs] for key, pairs in summary.items()}
        )

    def delete_image_tags(self, call: Call) -> Reply:
        image_ids, tag_ids = call.query.csv("imageIds", 64), call.query.csv("tagIds", 20)
        if not image_ids or not tag_ids:
            raise errors.REQUIRED.error(name="imageIds" if not image_ids else "tagIds")
        self.backend.images.untag(call.params["projectId"], image_ids, tag_ids)
        return Reply(204)

    def download_image(self, call: Call) -> Reply:
        """A signed image link (checked by the app before this runs): the bytes, no key needed."""
        if call.params["kind"] not in files.KINDS:
            raise errors.PATH_NOT_FOUND.error()
        image = self.backend.images.file(call.params["projectId"], call.params["imageId"])
        try:
            data, media_type = files.read(self.backend.store, image, call.params["kind"])
        except OSError:  # deleted meanwhile
            raise errors.IMAGE_NOT_FOUND.error(image_id=image.image_id) from None
        return Reply(200, raw=data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    # ----- training and iterations -----

    def train_project(self, call: Call) -> Reply:
        parameters = bodies.training_parameters(call)
        if parameters.custom_base_model:
            raise errors.CUSTOM_BASE_MODEL.error()
        iteration = self.backend.iterations.train(
            call.params["projectId"],
            call.query.text("trainingType"),
            call.query.integer("reservedBudgetInHours", 0),
            call.query.flag("forceTrain"),
            call.query.text("notificationEmailAddress"),
            parameters.selected_tags,
        )
        return Reply(200, shape.iteration_json(iteration))

    def get_iterations(self, call: Call) -> Reply:
        return Reply(
            200, [shape.iteration_json(it) for it in self.backend.iterations.list(call.params["projectId"])]
        )

    def get_iteration(self, call: Call) -> Reply:
        return Reply(
            200,
            shape.iteration_json(
                self.backend.iterations.get(call.params["projectId"], call.params["iterationId"])
            ),
        )

    def update_iteration(self, call: Call) -> Reply:
        iteration = self.backend.iterations.rename(
            call.params["projectId"], call.params["iterationId"], bodies.iteration_name(call)
        )
        return Reply(200, shape.iteration_json(iteration))

    def delete_iteration(self, call: Call) -> Reply:
        self.backend.iterations.delete(call.params["projectId"], call.params["iterationId"])
        return Reply(204)

    def publish_iteration(self, call: Call) -> Reply:
        self.backend.iterations.publish(
            call.params["projectId"],
            call.params["iterationId"],
            call.query.text("publishName"),
            call.query.text("predictionId"),
            call.query.flag("overwrite"),
        )
        return Reply(200, True)

    def unpublish_iteration(self, call: Call) -> Reply:
        self.backend.iterations.unpublish(call.params["projectId"], call.params["iterationId"])
        return Reply(204)

    def get_iteration_performance(self, call: Call) -> Reply:
        iteration, performance = self.backend.iterations.performance(
            call.params["projectId"], call.params["iterationId"], call.query.number("threshold", 0.5)
        )
        return Reply(200, shape.performance_json(iteration, performance))

    def _image_performances(self, call: Call) -> list[ImagePerformance]:
        return self.backend.iterations.image_performances(
            call.params["projectId"],
            call.params["iterationId"],
            call.query.csv("tagIds", 20),
            call.query.text("orderBy"),
        )

    def get_image_performances(self, call: Call) -> Reply:
        take, skip = call.query.integer("take", 50), call.query.integer("skip", 0)
        if not 0 <= take <= MAX_TAKE or skip < 0:
            raise errors.PAGING.error(max_take=MAX_TAKE)
        page = self._image_performances(call)[skip : skip + take]
        links = self._links(call)
        return Reply(200, [shape.image_performance_json(entry, links) for entry in page])

    def get_image_performance_count(self, call: Call) -> Reply:
        return Reply(200, len(self._image_performances(call)))

    def quick_test_image(self, call: Call) -> Reply:
        result = self.backend.prediction.quick_test(
            call.params["projectId"], call.query.text("iterationId"), call.one_image()
        )
        return Reply(200, shape.prediction_json(result))

    def quick_test_image_url(self, call: Call) -> Reply:
        data = self._fetch(bodies.image_url(call), MAX_TRAINING_IMAGE_BYTES)
        result = self.backend.prediction.quick_test(
            call.params["projectId"], call.query.text("iterationId"), data
        )
        return Reply(200, shape.prediction_json(result))

    # ----- export -----

    def export_iteration(self, call: Call) -> Reply:
        export = self.backend.exports.start(
            call.params["projectId"],
            call.params["iterationId"],
            call.query.text("platform"),
            call.query.text("flavor"),
        )
        return Reply(200, shape.export_json(export, self._links(call)))

    def get_exports(self, call: Call) -> Reply:
        exports = self.backend.exports.list(call.params["projectId"], call.params["iterationId"])
        links = self._links(call)
        return Reply(200, [shape.export_json(export, links) for export in exports])

    def download_export(self, call: Call) -> Reply:
        """A signed export link (checked by the app before this runs): the zip, no key needed."""
        name = call.params["fileName"]
        data = self.backend.exports.file(call.params["projectId"], call.params["iterationId"], name)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Reply(200, raw=data, media_type="application/zip", headers=headers)

    def not_supported(self, call: Call) -> Reply:
        raise errors.NOT_SUPPORTED.error(what="this operation")

    # ----- prediction -----

    def _predict(self, call: Call, data: bytes) -> Reply:
        result = self.backend.prediction.predict(
            call.params["projectId"],
            call.params["publishedName"],
            "classify",
            data,
            MAX_PREDICTION_IMAGE_BYTES,
        )
        return Reply(200, shape.prediction_json(result))

    def classify_image(self, call: Call) -> Reply:
        return self._predict(call, call.one_image())

    def classify_image_url(self, call: Call) -> Reply:
        url = bodies.image_url(call)
        self.backend.prediction.published_iteration(
            call.params["projectId"], call.params["publishedName"], "classify"
        )
        return self._predict(call, self._fetch(url, MAX_PREDICTION_IMAGE_BYTES))

    def detect(self, call: Call) -> Reply:
        """Object detection: the service's answer for a classification project, else not supported."""
        self.backend.prediction.published_iteration(
            call.params["projectId"], call.params["publishedName"], "detect"
        )
        raise errors.NO_OBJECT_DETECTION.error()

    def _fetch(self, url: str, max_bytes: int) -> bytes:
        return fetch_image(url, allow_private=self.allow_private_urls, max_bytes=max_bytes)
