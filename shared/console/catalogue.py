"""The console's error messages, in one place: what happened and what to do."""

from __future__ import annotations

from typing import Any

MESSAGES = {
    "BadJson": "The request body is not a JSON object: send the fields the console sends.",
    "MissingField": "The request needs a non-empty {field!r} field.",
    "BadParameter": "The query parameter {name!r} is not valid: {why}.",
    "BadArea": "Only the pipeline's own containers can be read here: use one of {allowed}.",
    "BadBlobName": "That blob name cannot be used here (empty, too long, or containing '..' or a "
    "leading '/'): pick the image from the console's lists.",
    "BadTag": "{tag!r} is not a tag folder the console can use: pick one of the project's tags or the "
    "Negative folder {negative!r}.",
    "BlobNotFound": "{area}/{name} is not there any more (moved or deleted meanwhile): reload the list.",
    "BlobChanged": "{area}/{name} changed while it was being moved; nothing was removed: reload and "
    "try again.",
    "NotAnImage": "{area}/{name} is not an image the console can show (unreadable or too large).",
    "UnknownRoute": "The console has no {method} {path!r}: reload the page (it may be newer than this tab).",
    "ProjectNotFound": "The Custom Vision project is not found: run a retrain (POST /api/retrain) to "
    "create it, or check CUSTOMVISION_PROJECT_ID / CUSTOMVISION_PROJECT_NAME.",
    "StorageUnavailable": "The storage account did not answer as expected: try again in a moment; the "
    "app's log has the details.",
    "CustomVisionUnavailable": "Custom Vision did not answer: try again in a moment; the app's log has "
    "the details.",
    "ConsoleFailed": "The console could not do that: try again; the app's log has the details.",
    "BadUndo": "That undo no longer applies: reload the list.",
    "StaticNotFound": "The console has no file {path!r}: open the console's start page.",
}


def message_for(code: str, **details: Any) -> str:
    template = MESSAGES[code]
    try:
        return template.format(**details)
    except (KeyError, IndexError):
        return template
