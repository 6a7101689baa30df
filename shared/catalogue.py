"""Every error code the pipeline writes into a document, a run record or an HTTP reply, with its message.

Each message says what happened and what to do. Placeholders take only safe values the pipeline itself
composes (a setting name, a limit, a size, a service's error code); what an engineer needs beyond that
(the exception, the service's text) goes to the log with the invocation id, never into a message.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

IMAGE_FORMATS = "JPEG, PNG, GIF, BMP, WEBP or TIFF"
_EXPORT_AGAIN = "export the iteration again from Custom Vision (platform ONNX) and store the new zip"


@dataclass(frozen=True)
class Entry:
    code: str
    message: str
    retryable: bool = False

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.message) if name)

    def pattern(self) -> re.Pattern[str]:
        """A regex matching any message made from this entry (placeholders match any text)."""
        parts = []
        for literal, name, _, _ in string.Formatter().parse(self.message):
            parts.append(re.escape(literal))
            if name:
                parts.append(".+?")
        return re.compile("".join(parts), re.DOTALL)


_ENTRIES = (
    # --- images (result documents, quick-test replies, training sync failures) ---
    Entry(
        "NotAnImage",
        f"The file is empty, corrupt, truncated or not an image format that can be read: upload a "
        f"{IMAGE_FORMATS}"
        " image",
    ),
    Entry(
        "ImageTooSmall",
        "The image is {width}x{height} px; at least {minimum} px on each side is needed: upload a larger "
        "image",
    ),
    Entry(
        "ImageAspectRatio",
        "The image is {width}x{height} px, longer than {maximum}:1, which Custom Vision refuses: crop it and "
        "upload it again",
    ),
    Entry(
        "ImageTooLarge",
        "The image is larger than the pipeline accepts ({limit}): downscale or compress it and upload it "
        "again",
    ),
    Entry(
        "NameTooLong",
        "The image's name is {length} characters, so its result document would pass Azure's "
        "{limit}-character "
        "blob-name limit; this document is stored under a short name instead: rename the image to at most "
        "{maximum} characters",
    ),
    # --- the model and the Custom Vision resource ---
    Entry(
        "NoPublishedModel",
        "No iteration is published as {publishedName} (PUBLISHED_NAME) in project {projectId}: run a retrain "
        "cycle (POST /api/retrain) or publish an iteration under that name (with CLASSIFIER_MODE=onnx the "
        "cycle also exports it to models/current.json in PIPELINE_CONTAINER, where a model exported from the "
        "Custom Vision portal can be put instead, see docs/onnx.md)",
    ),
    # --- the exported ONNX model (CLASSIFIER_MODE=onnx; detail: a file name, a shape, a key's value) ---
    Entry(
        "ModelInvalid",
        "The ONNX model zip cannot be used: {detail}. Check that it is a Custom Vision export (model.onnx, "
        "labels.txt, cvexport.manifest at its root), or " + _EXPORT_AGAIN,
    ),
    Entry(
        "ModelChecksumMismatch",
        "The model zip was altered or damaged: {detail}. Store the zip exactly as Custom Vision exported it, "
        "or " + _EXPORT_AGAIN,
    ),
    Entry(
        "ModelInputUnsupported",
        "The model's input is not a Custom Vision classification input: {detail}. The pipeline feeds one "
        "float input named data, shaped [1, 3, height, width]: " + _EXPORT_AGAIN,
    ),
    Entry(
        "ModelOutputUnsupported",
        "The model's output cannot be read: {detail}. The pipeline reads one output named model_output, "
        "shaped [1, N] with one probability per line of labels.txt, as current Custom Vision ONNX exports "
        "have: " + _EXPORT_AGAIN,
    ),
    Entry(
        "ModelPointerInvalid",
        "models/current.json in PIPELINE_CONTAINER cannot be used: {detail}. Write it as docs/onnx.md "
        "describes (modelBlob, sha1, labels), or run a retrain cycle with CLASSIFIER_MODE=onnx, which "
        "writes it",
    ),
    Entry(
        "ModelRefused",
        "The new model was refused and the model in use before it, if any, stays (a refused "
        "models/current.json in PIPELINE_CONTAINER is tried again only when it changes): {reason}",
    ),
    Entry(
        "ExportNotSupported",
        "Custom Vision cannot export this project's iterations to ONNX: its domain is not a compact one. The "
        "current model is kept. To classify in-process, create the project on a compact domain: set "
        'CUSTOMVISION_DOMAIN to a compact domain such as "Food (compact)" or "General (compact)", clear '
        "CUSTOMVISION_PROJECT_ID (or give a new CUSTOMVISION_PROJECT_NAME) and run a retrain cycle; or set "
        "CLASSIFIER_MODE=service",
    ),
    Entry(
        "ExportFailed",
        "Custom Vision reported the ONNX export of the published iteration as failed; the current model is "
        "kept: start a new cycle, or export the iteration from the portal and store it as docs/onnx.md says",
    ),
    Entry(
        "ModelDownloadFailed",
        "The exported model could not be downloaded from the link Custom Vision gave (an error status, a "
        "failed connection or a file larger than {limit}); the current model is kept: the step is retried, "
        "or start a new cycle",
        retryable=True,
    ),
    Entry(
        "ProjectNotFound",
        "No Custom Vision project matches {setting}={value} on this resource: fix {setting}, or clear "
        "CUSTOMVISION_PROJECT_ID and run a retrain cycle, which creates the project by "
        "CUSTOMVISION_PROJECT_NAME",
    ),
    Entry(
        "DomainNotFound",
        "CUSTOMVISION_DOMAIN={domain} is not a classification domain on this resource: use one of {choices}",
    ),
    Entry(
        "AuthenticationFailed",
        "Custom Vision refused the key (HTTP {status}): check {setting} and that the endpoint belongs to the "
        "same resource",
    ),
    Entry(
        "IdentityRefused",
        "Custom Vision refused the app's Entra ID token (HTTP {status}, CUSTOMVISION_AUTH=identity): give "
        "the app's identity (AZURE_CLIENT_ID) a Custom Vision data-plane role on the {resource} resource and "
        "allow some minutes for it to apply, or sign in with keys (CUSTOMVISION_AUTH=key)",
    ),
    Entry(
        "NoToken",
        "The app could not get an Entra ID token for Custom Vision (CUSTOMVISION_AUTH=identity): in Azure "
        "check that the Function app has its managed identity and that AZURE_CLIENT_ID is that identity's "
        "client id; locally sign in (az login); the app's log has azure-identity's explanation",
    ),
    Entry(
        "CustomVisionRefused",
        "Custom Vision refused the call with {serviceCode} (HTTP {status}): the function's log has the "
        "service's explanation; fix what the code names and try again",
    ),
    Entry(
        "Throttled",
        "Custom Vision throttled the call (HTTP 429): wait a moment and try again, or lower "
        "PREDICTION_MAX_TPS",
        retryable=True,
    ),
    Entry(
        "QuickTestBusy",
        "The quick test may call Custom Vision {rate} times a second per instance (QUICKTEST_MAX_TPS), so "
        "that the pipeline keeps its own prediction rate: try again in {seconds} s",
        retryable=True,
    ),
    Entry(
        "ServiceError",
        "Custom Vision answered HTTP {status}: try again later; the function's log has the details",
        retryable=True,
    ),
    Entry(
        "ServiceUnavailable",
        "Custom Vision could not be reached (the connection failed or timed out): check the "
        "CUSTOMVISION_*_ENDPOINT"
        " settings and try again later",
        retryable=True,
    ),
    Entry(
        "RetriesExhausted",
        "Classification failed on every try (Custom Vision throttled, failed or could not be reached; the "
        "function's log has each error): upload the image again to retry once the service is healthy",
        retryable=True,
    ),
    # --- HTTP requests ---
    Entry("EmptyBody", 'The body is empty: POST image bytes, or JSON {{"url": "https://..."}}'),
    Entry(
        "BadJson",
        'The body is not JSON of the form {{"url": "https://..."}} (it does not parse, is nested too deeply, '
        'or has no "url" string): send {{"url": "https://..."}} or the image bytes',
    ),
    Entry(
        "UrlNotAllowed",
        "The URL is not one the pipeline fetches (only public http:// and https:// addresses, without "
        "credentials, on a valid port): give a public image URL or POST the image bytes instead",
    ),
    Entry(
        "UrlNotResolvable",
        "The URL's host name is not valid or does not resolve: check the URL, or POST the image bytes "
        "instead",
    ),
    Entry(
        "UrlFetchFailed",
        "The image could not be fetched from the URL (an error status, a failed connection, a time limit of "
        "QUICKTEST_URL_TIMEOUT_SECONDS or too many redirects): check that the URL serves the image, or "
        "POST the "
        "image bytes instead",
    ),
    Entry("RunNotFound", "No retrain run has this id: GET /api/retrain lists the latest runs"),
    # --- retrain runs ---
    Entry(
        "NoTrainingData",
        "The training container {container} (TRAINING_CONTAINER) does not exist: put labelled images in it "
        "as "
        "{{tag}}/{{file}} and start a new cycle",
    ),
    Entry(
        "InvalidTagName",
        "The folder name is not a tag name Custom Vision accepts (1 to 256 characters after trimming): "
        "rename the folder and retrain",
    ),
    Entry(
        "TagConflict",
        "The folder's tag could not be created or found in the project: check the project's tags (a tag may "
        "differ only in case) and retrain",
    ),
    Entry(
        "TagLimitExceeded",
        "The project has as many tags as its tier allows: remove a tag or the folder, then retrain",
    ),
    Entry(
        "ManifestBusy",
        "The sync manifest kept changing under concurrent writers: the cycle is retried",
        retryable=True,
    ),
    Entry(
        "ManifestRebuilt",
        "The sync manifest (sync/manifest.json in PIPELINE_CONTAINER) could not be read ({why}); it was kept "
        "as {kept} for inspection and rebuilt from the training container and the project. Images whose "
        "content and tag match a training blob are the pipeline's again; an image the pipeline uploaded "
        "earlier that matches no blob stays in the project: delete it in the portal if it is not wanted",
    ),
    Entry(
        "UploadRefused",
        "Custom Vision refused the training image with status {status}: fix the image (format, size, "
        "dimensions) and upload it again",
    ),
    Entry(
        "TrainingFailed",
        "Custom Vision reported the training as failed (the function's log has its details): check the "
        "training images (at least two tags, five images each) and start a new cycle",
    ),
    Entry(
        "EnqueueFailed",
        "The run could not be queued on RETRAIN_QUEUE: check the storage account and start a new cycle",
    ),
    Entry(
        "Abandoned",
        "The run stopped updating for RETRAIN_STALE_MINUTES and was taken over by a newer one: the "
        "function's log tells why it stopped; the newer run carries on",
    ),
    Entry(
        "StepFailed",
        "The {step} step failed on every try and was given up (its message went to the poison queue); the "
        "function's log has each error with its invocation id: fix the cause and start a new cycle",
    ),
    # --- import (POST /api/training/import) ---
    Entry(
        "ImportMultipleTags",
        "The image has more than one tag, and a training folder stands for one tag: it was left in the "
        "project; give it one tag in Custom Vision (or copy it by hand) and import again",
    ),
    Entry(
        "ImportTagNotAFolder",
        "The image's tag name cannot be a training folder (it contains '/' or '\\', is only dots, or is the "
        "Negative folder's name (NEGATIVE_FOLDER) on a regular tag): rename the tag in Custom Vision and "
        "import again",
    ),
    Entry(
        "ImportDownloadFailed",
        "The image's download link (originalImageUri) did not serve it (an error status, a failed "
        "connection or a time limit): import again later; the function's log has the details",
    ),
    Entry(
        "ImportTooLarge",
        "The image is larger than an import copies ({limit}): download it from the Custom Vision portal "
        "by hand",
    ),
    # --- the console's data calls (shared/console) ---
    Entry("BadConsoleRequest", "The request body is not a JSON object: send the fields the console sends."),
    Entry("MissingField", "The request has no {field!r} or it is empty: send it, as the console does."),
    Entry("BadParameter", "The query parameter {name!r} is not valid: {why}."),
    Entry("BadArea", "Only the pipeline's own containers can be read here: use one of {allowed}."),
    Entry(
        "BadBlobName",
        "That blob name cannot be used here (empty, too long, or containing '..' or a leading '/'): pick "
        "the image from the console's lists.",
    ),
    Entry(
        "BadTag",
        "{tag!r} is not a tag folder the console can use: pick one of the project's tags or the Negative "
        "folder (NEGATIVE_FOLDER).",
    ),
    Entry(
        "BlobNotFound", "{area}/{name} is not there any more (moved or deleted meanwhile): reload the list."
    ),
    Entry(
        "BlobChanged",
        "{area}/{name} changed while it was being moved; nothing was removed: reload and try again.",
    ),
    Entry(
        "LabelledMeanwhile",
        "{name} was labelled meanwhile as {tag}; nothing was changed: reload the list, and undo that label "
        "first to file the image under another tag.",
    ),
    Entry(
        "AlreadyLabelled",
        "{name} is already in training as {tag} ({training}), so no copy was added: nothing else to do "
        "(undo that label first to file the image again).",
    ),
    Entry(
        "NotViewable",
        "{area}/{name} is not an image the console can show (unreadable or too large): open its result "
        "document instead.",
    ),
    Entry(
        "UnknownRoute",
        "The console has no {method} {path!r}: reload the page (it may be newer than this tab).",
    ),
    Entry(
        "StorageUnavailable",
        "The storage account did not answer as expected: try again in a moment; the app's log has the "
        "details.",
    ),
    Entry(
        "CustomVisionUnavailable",
        "Custom Vision did not answer: try again in a moment; the app's log has the details.",
    ),
    Entry("ConsoleFailed", "The console could not do that: try again; the app's log has the details."),
    Entry("BadUndo", "That undo no longer applies: reload the list."),
    Entry("StaticNotFound", "The console has no file {path!r}: open the console's start page."),
    Entry(
        "DuplicateImage",
        "{name} is the same photo as {existing}: it was not stored again (a tag needs each photo once).",
    ),
    Entry(
        "IterationNotExportable",
        "{name} cannot be downloaded as ONNX: the project's domain is not a compact one. Projects created "
        'with CUSTOMVISION_DOMAIN set to a compact domain (e.g. "General (compact)") can be exported.',
    ),
    Entry(
        "IterationPublished",
        "{name} is published: unpublish it (or publish another iteration) before deleting it.",
    ),
    Entry(
        "IterationNotCompleted",
        "{name} is {status}: only trained (Completed) iterations can be compared image by image.",
    ),
)

CATALOGUE: dict[str, Entry] = {entry.code: entry for entry in _ENTRIES}
_SAFE = (str, int, float)


def text(code: str, **values: str | int | float) -> str:
    """The catalogue message of ``code`` with its placeholders filled in."""
    entry = CATALOGUE[code]
    missing = set(entry.placeholders) - values.keys()
    if missing:
        raise KeyError(f"{code} needs {sorted(missing)}")
    for name, value in values.items():
        if not isinstance(value, _SAFE) or isinstance(value, bool):
            raise TypeError(f"{code}: {name} must be a plain str/int/float")
    return entry.message.format(**values)


def matches(code: str, message: str) -> bool:
    """True when ``message`` is a message of the catalogue entry ``code``."""
    entry = CATALOGUE.get(code)
    return entry is not None and entry.pattern().fullmatch(message) is not None
