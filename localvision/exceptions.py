"""The service's errors in one catalogue: each code with its HTTP status and message template.

Raise ``CATALOGUE_ENTRY.error(field=value)``; the reply is ``{"code": ..., "message": ...}`` with the entry's
status. Messages say what happened and what to send instead; they never carry a Python repr.
``BadRequest`` remains for a caller that builds its message itself (the URL fetcher).
"""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """An error answered as ``status`` with body ``{"code": code, "message": message}``."""

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ServiceError):
    status = 400


@dataclass(frozen=True)
class ErrorSpec:
    """One entry of the catalogue."""

    code: str
    status: int
    template: str

    def error(self, **fields: object) -> ServiceError:
        return ServiceError(self.code, self.template.format(**fields), self.status)


def _bad(code: str, template: str) -> ErrorSpec:
    return ErrorSpec(code, 400, template)


def _missing(code: str, template: str) -> ErrorSpec:
    return ErrorSpec(code, 404, template)


# ----- not found -----
PROJECT_NOT_FOUND = _missing("NotFoundProject", "Project not found")
ITERATION_NOT_FOUND = _missing("NotFoundIteration", "Invalid iteration")
TAG_NOT_FOUND = _missing("NotFoundTag", "Tag not found")
IMAGE_NOT_FOUND = _missing("NotFoundImage", "Image '{image_id}' not found")
DOMAIN_NOT_FOUND = _missing("NotFoundDomain", "Domain not found")
NO_DEFAULT_ITERATION = _missing("NotFoundProjectDefaultIteration", "The project has no trained iteration")
NO_PERFORMANCE = _missing("NotFoundIterationPerformance", "The iteration is {status}: no performance yet")
PATH_NOT_FOUND = _missing("NotFound", "Resource not found")
NOT_CUSTOM_VISION = _missing("NotFound", "Not a Custom Vision path: use /customvision/{{version}}/...")
UNKNOWN_API = _missing("NotFound", "Unknown API '{version}/{surface}'")

# ----- requests -----
METHOD_NOT_ALLOWED = ErrorSpec("BadRequestNotSupported", 405, "{method} is not allowed here")
NOT_SUPPORTED = _bad(
    "BadRequestNotSupported", "localvision does not implement {what} (see docs/localvision.md)"
)
UNSUPPORTED_MEDIA_TYPE = ErrorSpec(
    "UnsupportedMediaType",
    415,
    "Content-Type '{content_type}' is not supported: send multipart/form-data or application/octet-stream",
)
BODY_TOO_LARGE = _bad("BadRequestImageBatch", "The request body is over {megabytes} MB")
BODY_NOT_JSON = _bad("BadRequest", "The request body is not valid JSON: send a JSON object")
BODY_SHAPE = _bad("BadRequest", "{problem}: send {expected}")
BATCH_SHAPE = _bad("BadRequestImageBatch", "{problem}: send {expected}")
QUERY_FLAG = _bad("BadRequest", "Query parameter '{name}' must be true or false, not '{value}'")
QUERY_NUMBER = _bad("BadRequest", "Query parameter '{name}' must be {kind}, not '{value}'")
QUERY_TOO_MANY = _bad("BadRequestInvalidIds", "Query parameter '{name}' takes at most {limit} values")
REQUIRED = _bad("BadRequestRequiredParamIsNull", "The parameter '{name}' is required")
PAGING = _bad("BadRequest", "take must be 0 to {max_take} and skip 0 or more")
TAGGING_STATUS = _bad("BadRequest", "taggingStatus '{value}' is not All, Tagged or Untagged")
ORDER_BY = _bad("BadRequest", "orderBy '{value}' is not Newest or Oldest")
THRESHOLD = _bad("BadRequest", "threshold must be between 0 and 1")

# ----- projects, tags -----
PROJECT_CONFLICT = ErrorSpec(
    "Conflict",
    409,
    "The project kept changing through another server while this request was saved: send it again",
)
PROJECT_NAME = _bad("BadRequestProjectName", "A project name must have 1 to 256 characters")
UNKNOWN_DOMAIN = _bad("BadRequestProjectUnknownDomain", "Unknown domain id '{domain_id}': see GET /domains")
UNKNOWN_CLASSIFICATION = _bad(
    "BadRequestProjectUnknownClassification", "classificationType '{value}' is not Multiclass or Multilabel"
)
DOMAIN_TYPE_CHANGE = _bad(
    "BadRequestProjectUnsupportedDomainTypeChange",
    "A project cannot change between classification and object detection domains",
)
PROJECT_LIMIT = _bad(
    "BadRequestExceedProjectLimit", "The {tier} tier allows {limit} projects; delete one first"
)
TAG_NAME = _bad("BadRequestTagName", "A tag name must have 1 to 256 characters")
TAG_NAME_NOT_UNIQUE = _bad("BadRequestTagNameNotUnique", "The project already has a tag named '{name}'")
TAG_TYPE = _bad("BadRequestTagType", "Tag type '{value}' is not one of {known}")
MULTIPLE_NEGATIVE = _bad("BadRequestMultipleNegativeTag", "The project already has a Negative tag")
NEGATIVE_AND_REGULAR = _bad(
    "BadRequestNegativeAndRegularTagOnSameImage",
    "Image {image_id} would have the Negative tag and another tag; an image is either negative or tagged",
)
MULTIPLE_GENERAL_PRODUCT = _bad(
    "BadRequestMultipleGeneralProductTag", "The project already has a GeneralProduct tag"
)
TAG_LIMIT = _bad("BadRequestExceedTagPerProjectLimit", "The {tier} tier allows {limit} tags per project")

# ----- images -----
EMPTY_BATCH = _bad("BadRequestImageBatch", "The batch has no images")
BATCH_TOO_LARGE = _bad(
    "BadRequestExceededBatchSize", "The batch has {count} images; send at most {limit} per call"
)
NOT_BASE64 = _bad("BadRequestImageBatch", "Image '{name}' contents is not base64")
NO_BOUNDARY = _bad("BadRequestImageStream", "multipart/form-data without a boundary")
NO_PART = _bad("BadRequestImageStream", "The multipart body has no complete part")
NO_IMAGE = _bad("BadRequestImageStream", "The request has no image: send it as multipart/form-data")
IMAGE_URL_BODY = _bad("BadRequestImageUrl", 'The body must be {{"url": "<http or https URL of an image>"}}')
IMAGE_URL_BODY_SHAPE = _bad("BadRequestImageUrl", "{problem}: send {expected}")
METADATA_SHAPE = _bad("BadRequest", "metadata must be a JSON object of string keys and values")
METADATA_PAIRS = _bad("BadRequestImageMetadataKey", "At most {limit} metadata pairs per image")
METADATA_KEY = _bad("BadRequestImageMetadataKey", "Metadata keys must have 1 to {limit} characters")
METADATA_VALUE = _bad("BadRequestImageMetadataValue", "Metadata values must be strings of at most {limit}")
IMAGE_EMPTY = _bad(
    "BadRequestImageStream", "The image is empty: send the bytes of a jpg, png, bmp or gif file"
)
IMAGE_TOO_LARGE = _bad("BadRequestImageSizeBytes", "The image is {size} bytes; the limit is {limit} MB")
IMAGE_FORMAT = _bad("BadRequestImageFormat", "The file is not an image: send jpg, png, bmp or gif")
IMAGE_DAMAGED = _bad(
    "BadRequestImageFormat", "The image is damaged or unreadable: send a complete jpg, png, bmp or gif file"
)
IMAGE_KIND = _bad("BadRequestImageFormat", "Image format {format} is not jpg, png, bmp or gif")
IMAGE_DIMENSIONS = _bad(
    "BadRequestImageDimensions", "The image is {width}x{height} px; the limit is {limit} px a side"
)
IMAGE_ASPECT = _bad(
    "BadRequestImageAspectRatio", "The image is {width}x{height} px; the aspect ratio limit is {limit}:1"
)

# ----- training, iterations, publishing -----
TRAINING_TYPE = _bad("BadRequest", "trainingType '{value}' is not Regular or Advanced")
ADVANCED_BUDGET = _bad(
    "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining",
    "Advanced training needs reservedBudgetInHours of 1 or more",
)
EMAIL = _bad("BadRequestInvalidEmailAddress", "'{value}' is not an email address")
CUSTOM_BASE_MODEL = _bad("BadRequestNotSupported", "Training from a custom base model is not supported")
UNSUPPORTED_DOMAIN = _bad("BadRequestUnsupportedDomain", "localvision trains classification projects only")
ALREADY_TRAINING = _bad("BadRequestTrainingAlreadyInProgress", "The project is already training")
ITERATION_LIMIT = _bad(
    "BadRequestExceedIterationPerProjectLimit",
    "The project has {limit} iterations, the limit: delete an old one first",
)
NOT_NEEDED = _bad(
    "BadRequestTrainingNotNeeded",
    "Nothing changed since the last training: add or retag images, or pass forceTrain=true",
)
UNKNOWN_SELECTED_TAGS = _bad("BadRequestInvalidIds", "Unknown tag ids in selectedTags: {ids}")
NOT_ENOUGH_IMAGES = _bad(
    "BadRequestTrainingValidationFailed",
    "Not enough images for training: at least 2 tags need {minimum} or more images each "
    "(tag image counts: {summary})",
)
MULTICLASS_TWO_TAGS = _bad(
    "BadRequestMultiClassClassificationTrainingValidationFailed",
    "Image {image_id} has {count} tags; a Multiclass project allows one tag per image",
)
ITERATION_NAME = _bad("BadRequestIterationName", "An iteration name must not be empty")
ITERATION_NAME_NOT_UNIQUE = _bad("BadRequestIterationNameNotUnique", "Another iteration is named '{name}'")
ITERATION_PUBLISHED = _bad(
    "BadRequestIterationIsPublished", "The iteration is published as '{name}': unpublish it first"
)
NOT_TRAINED = _bad("BadRequestIterationIsNotTrained", "The iteration is {status}, not Completed")
PUBLISH_NAME = _bad("BadRequestInvalidPublishName", "publishName must have 1 to 256 printable characters")
PUBLISH_NAME_TAKEN = _bad(
    "BadRequestInvalidPublishName",
    "'{name}' is already published from {holder}: unpublish it first or pass overwrite=true",
)
PUBLISH_TARGET = _bad(
    "BadRequestInvalidPublishTarget",
    "predictionId must be the resource id of a prediction resource: /subscriptions/{{sub}}/"
    "resourceGroups/{{group}}/providers/Microsoft.CognitiveServices/accounts/{{name}}",
)
NOT_PUBLISHED = _bad("BadRequestIterationNotPublished", "The iteration is not published")

# ----- export -----
EXPORT_PLATFORM = _bad("BadRequest", "platform '{value}' is not one of {known}: localvision exports ONNX")
EXPORT_DOMAIN = _bad(
    "BadRequestProjectUnsupportedExportPlatform",
    "The iteration was trained on domain '{domain}', which does not export {platform}: create the "
    "project on a compact domain (e.g. General (compact)), train it and export that iteration",
)
EXPORT_NOT_IMPLEMENTED = _bad(
    "ErrorExporterInvalidPlatform", "localvision exports ONNX only, not {platform}: ask for platform=ONNX"
)
EXPORT_FLAVOR = _bad(
    "ErrorExporterInvalidPlatform",
    "The {platform} flavor '{flavor}' is not supported: leave flavor out for the default, or use {known}",
)
EXPORT_WHILE_TRAINING = _bad(
    "BadRequestExportWhileTraining", "The iteration is still training: export it once it is Completed"
)
EXPORT_NOT_TRAINED = _bad(
    "BadRequestExportValidationFailed",
    "The iteration is {status}, not Completed: only a trained iteration exports; train again",
)
EXPORT_IN_PROGRESS = _bad(
    "BadRequestExportAlreadyInProgress",
    "This iteration's {what} export is in progress: poll get_exports until its status is Done",
)
EXPORT_NOT_FOUND = _missing("NotFound", "No such export: call get_exports for the iteration's exports")

# ----- prediction -----
WRONG_PROJECT_KIND = _bad(
    "BadRequestNotSupported", "This is a {domain_type} project: use the {kind} operations"
)
NO_OBJECT_DETECTION = _bad("BadRequestNotSupported", "localvision does not implement object detection")
IMAGE_UNREADABLE = _bad(
    "BadRequestImageFormat", "The image cannot be decoded: send a JPEG, PNG, BMP or GIF file"
)

# ----- throttling, faults, links -----
THROTTLED = ErrorSpec("429", 429, "Rate limit is exceeded. Try again in 1 seconds.")
FAULT_THROTTLED = ErrorSpec(
    "429", 429, "Rate limit is exceeded (localvision fault injection). Try again in 1 seconds."
)
FAULT_INTERNAL = ErrorSpec("ErrorUnknown", 500, "Internal server error (localvision fault injection)")
INTERNAL = ErrorSpec("ErrorUnknown", 500, "Internal server error: see the localvision log")
STORE_UNAVAILABLE = ErrorSpec(
    "ServiceUnavailable",
    503,
    "The state store (blob container) did not answer: try again in a moment",
)
LINK_REFUSED = ErrorSpec(
    "AuthenticationFailed",
    403,
    "The link is unsigned, altered or expired: list the images (or get_exports) again for a fresh link",
)
