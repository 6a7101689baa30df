"""The console's static files (shared/console/static): no data in them, so they are served without a key."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from shared.console.catalogue import message_for
from shared.console.http import ConsoleResponse, respond

STATIC_DIR = Path(__file__).parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The files, read once: only these names are ever served (no path is built from the request).
_FILES = {p.relative_to(STATIC_DIR).as_posix(): p for p in STATIC_DIR.rglob("*") if p.suffix in TYPES}


def serve_static(path: str, request_url: str) -> ConsoleResponse:
    """GET /api/console/{path}; the bare /api/console is redirected to /api/console/ so that the page's
    relative links resolve under it."""
    path = path.strip("/")
    if not path:
        url_path = urlsplit(request_url).path
        if not url_path.endswith("/"):
            return respond(302, b"", "text/plain", {"Location": url_path.rsplit("/", 1)[-1] + "/"})
        path = "index.html"
    file = _FILES.get(path)
    if file is None:
        return respond(
            404, message_for("StaticNotFound", path=path[:200]).encode(), "text/plain; charset=utf-8"
        )
    return respond(200, file.read_bytes(), TYPES[file.suffix], {"Cache-Control": "no-cache"})
