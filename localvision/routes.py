"""The route table: every operation of the training and prediction APIs, declared as data.

Paths are matched on the RAW path before percent-decoding (the SDK sends ``%2F`` inside path parameters);
literal segments match case-insensitively; anything may come before ``/customvision/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

TRAINING_VERSIONS = frozenset({"v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"})
PREDICTION_VERSIONS = frozenset({"v3.0", "v3.1"})


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # literal (lowercase) or "{name}"
    operation: str  # the Handlers method
    nostore: bool = False


def _route(method: str, path: str, operation: str) -> Route:
    segments = tuple(s if s.startswith("{") else s.lower() for s in path.strip("/").split("/"))
    return Route(method, segments, operation, nostore=path.endswith("/nostore"))


P = "projects/{projectId}"
IT = f"{P}/iterations/{{iterationId}}"
TRAINING_ROUTES = (
    _route("GET", "domains", "get_domains"),
    _route("GET", "domains/{domainId}", "get_domain"),
    _route("GET", "projects", "get_projects"),
    _route("POST", "projects", "create_project"),
    _route("POST", "projects/import", "not_supported"),
    _route("GET", P, "get_project"),
    _route("PATCH", P, "update_project"),
    _route("DELETE", P, "delete_project"),
    _route("GET", f"{P}/export", "not_supported"),
    _route("GET", f"{P}/artifacts", "not_supported"),
    _route("GET", f"{P}/tags", "get_tags"),
    _route("POST", f"{P}/tags", "create_tag"),
    _route("GET", f"{P}/tags/{{tagId}}", "get_tag"),
    _route("PATCH", f"{P}/tags/{{tagId}}", "update_tag"),
    _route("DELETE", f"{P}/tags/{{tagId}}", "delete_tag"),
    _route("GET", f"{P}/images", "get_images"),
    _route("POST", f"{P}/images", "create_images_from_data"),
    _route("DELETE", f"{P}/images", "delete_images"),
    _route("GET", f"{P}/images/count", "get_image_count"),
    _route("POST", f"{P}/images/files", "create_images_from_files"),
    _route("POST", f"{P}/images/urls", "create_images_from_urls"),
    _route("POST", f"{P}/images/predictions", "not_supported"),
    _route("GET", f"{P}/images/id", "get_images_by_ids"),
    _route("POST", f"{P}/images/metadata", "update_image_metadata"),
    _route("GET", f"{P}/images/tagged", "get_tagged_images"),
    _route("GET", f"{P}/images/tagged/count", "get_tagged_image_count"),
    _route("GET", f"{P}/images/untagged", "get_untagged_images"),
    _route("GET", f"{P}/images/untagged/count", "get_untagged_image_count"),
    _route("POST", f"{P}/images/tags", "create_image_tags"),
    _route("DELETE", f"{P}/images/tags", "delete_image_tags"),
    _route("POST", f"{P}/images/regions", "not_supported"),
    _route("DELETE", f"{P}/images/regions", "not_supported"),
    _route("POST", f"{P}/images/suggested", "not_supported"),
    _route("POST", f"{P}/images/suggested/count", "not_supported"),
    _route("POST", f"{P}/images/{{imageId}}/regionproposals", "not_supported"),
    _route("POST", f"{P}/train", "train_project"),
    _route("GET", f"{P}/iterations", "get_iterations"),
    _route("GET", IT, "get_iteration"),
    _route("PATCH", IT, "update_iteration"),
    _route("DELETE", IT, "delete_iteration"),
    _route("POST", f"{IT}/publish", "publish_iteration"),
    _route("DELETE", f"{IT}/publish", "unpublish_iteration"),
    _route("GET", f"{IT}/performance", "get_iteration_performance"),
    _route("GET", f"{IT}/performance/images", "get_image_performances"),
    _route("GET", f"{IT}/performance/images/count", "get_image_performance_count"),
    _route("GET", f"{IT}/export", "get_exports"),
    _route("POST", f"{IT}/export", "export_iteration"),
    _route("POST", f"{P}/quicktest/image", "quick_test_image"),
    _route("POST", f"{P}/quicktest/url", "quick_test_image_url"),
    _route("POST", f"{P}/predictions/query", "not_supported"),
    _route("DELETE", f"{P}/predictions", "not_supported"),
    _route("POST", f"{P}/tagsandregions/suggestions", "not_supported"),
)
C = "{projectId}/classify/iterations/{publishedName}"
D = "{projectId}/detect/iterations/{publishedName}"
PREDICTION_ROUTES = (
    _route("POST", f"{C}/image", "classify_image"),
    _route("POST", f"{C}/image/nostore", "classify_image"),
    _route("POST", f"{C}/url", "classify_image_url"),
    _route("POST", f"{C}/url/nostore", "classify_image_url"),
    _route("POST", f"{D}/image", "detect"),
    _route("POST", f"{D}/image/nostore", "detect"),
    _route("POST", f"{D}/url", "detect"),
    _route("POST", f"{D}/url/nostore", "detect"),
)
# Signed download links (no key: the signature is checked instead; see localvision.signing).
FILE_ROUTES = (
    _route("GET", "projects/{projectId}/images/{imageId}/{kind}", "download_image"),
    _route("GET", "projects/{projectId}/iterations/{iterationId}/exports/{fileName}", "download_export"),
)


def match(
    routes: tuple[Route, ...], method: str, segments: list[str]
) -> tuple[Route | None, dict[str, str], bool]:
    """The route for raw ``segments``, its decoded parameters, and whether the path exists at all."""
    path_exists = False
    for route in routes:
        if len(route.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for pattern, segment in zip(route.segments, segments, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = unquote(segment)
            elif pattern != unquote(segment).lower():
                break
        else:
            path_exists = True
            if route.method == method:
                return route, params, True
    return None, {}, path_exists


@dataclass(frozen=True)
class Target:
    """Which API a raw path addresses: surface (training | prediction | files), version, the rest."""

    surface: str
    version: str
    segments: list[str]
    prefix: str  # whatever came before /customvision/ or /localvision/ (a proxy's path)


def split_path(raw_path: bytes) -> Target | None:
    """``.../customvision/{version}/{surface}/...`` or ``.../localvision/files/...``; None if neither."""
    segments = raw_path.decode("latin-1").split("/")
    for index, segment in enumerate(segments):
        prefix = "/".join(segments[:index])
        if segment.lower() == "customvision" and len(segments) > index + 2:
            version, surface = segments[index + 1].lower(), segments[index + 2].lower()
            return Target(surface, version, [s for s in segments[index + 3 :] if s != ""], prefix)
        if segment == "localvision" and len(segments) > index + 1 and segments[index + 1] == "files":
            return Target("files", "", [s for s in segments[index + 2 :] if s != ""], prefix)
    return None


def routes_for(target: Target) -> tuple[Route, ...] | None:
    if target.surface == "training" and target.version in TRAINING_VERSIONS:
        return TRAINING_ROUTES
    if target.surface == "prediction" and target.version in PREDICTION_VERSIONS:
        return PREDICTION_ROUTES
    if target.surface == "files":
        return FILE_ROUTES
    return None
