"""``python -m devhost [--app function_app] [--settings local.settings.json] [--port 7071]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from devhost.config import ConfigError
from devhost.host import DevHost, Options
from devhost.invoker import InvocationLogFilter
from devhost.logformat import EscapingFormatter


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(InvocationLogFilter())
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s%(ctx)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("azure", "uvicorn", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run a Python v2 Azure Functions app locally, the way the Functions host would.",
    )
    parser.add_argument("--app", default="function_app", help="module name or .py path of the app")
    parser.add_argument("--settings", type=Path, help="local settings file (default: local.settings.json)")
    parser.add_argument("--host-json", type=Path, help="host.json (default: next to the app)")
    parser.add_argument("--port", type=int, help="HTTP port (default: Host.LocalHttpPort, else 7071)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        host = DevHost(Options(args.app, args.settings, args.host_json, args.port, args.bind))
        host.run()
    except ConfigError as exc:
        logging.getLogger("devhost").error("%s", exc)
        return 2
    except Exception:
        logging.getLogger("devhost").exception("devhost could not start the function app")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
