"""The console: a web page served by the Function app (static files) and its JSON API (function key).

Importable without azure.functions: function_app.py turns a ``ConsoleRequest`` into a call here and the
``ConsoleResponse`` back into an HttpResponse. See docs/console.md. May import the root modules,
``customvision``, ``retrain`` (to start and follow runs) and ``mirror`` (the last sync's summary).
"""

from shared.console.api import ConsoleApi
from shared.console.http import ConsoleRequest, ConsoleResponse
from shared.console.static_files import serve_static

__all__ = ["ConsoleApi", "ConsoleRequest", "ConsoleResponse", "serve_static"]
