"""``python -m devstack up|down|logs [-f] [service]|traces|demo``: `make up`/`down`/`logs`/`demo`."""

from __future__ import annotations

import argparse
import sys

from devstack import background, demo, traces
from devstack.settings import StackError, ensure, values_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start Azurite, localvision and devhost in the background")
    commands.add_parser("down", help="stop what `up` started")
    logs_parser = commands.add_parser("logs", help="show the logs (-f to follow)")
    logs_parser.add_argument("-f", "--follow", action="store_true")
    logs_parser.add_argument("service", nargs="*", help="azurite, localvision or devhost (default: all)")
    traces_parser = commands.add_parser("traces", help="the last traces: an image's, a retrain run's")
    traces_parser.add_argument("--image", help="the blob name of an image in the images container")
    traces_parser.add_argument("--run", help="a retrain run id")
    traces_parser.add_argument("-n", type=int, default=1, help="how many traces (default 1)")
    commands.add_parser("demo", help="the Microsoft Learn fruit exercise on the stack (starts it if needed)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo.main()
    try:
        if args.command == "up":
            for line in background.describe(background.up()):
                print(line)
        elif args.command == "down":
            background.down()
        elif args.command == "traces":
            path = traces.telemetry_file(values_of(ensure()))
            print("\n".join(traces.show(path, args.image, args.run, args.n)))
        else:
            background.logs(args.follow, args.service)
            if not args.follow and not args.service:
                print("==> the last traces (python -m devstack traces) <==")
                print("\n".join(traces.show(traces.telemetry_file(values_of(ensure())))))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
