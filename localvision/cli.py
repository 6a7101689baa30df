"""``python -m localvision --data DIR --host 127.0.0.1 --port 5100 --training-key K --prediction-key K``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn
from uvicorn.protocols.http import h11_impl

from localvision.app import LocalVisionApp
from localvision.engine import Engine
from localvision.faults import Faults, FaultSpecError, parse_spec
from localvision.handlers import Handlers
from localvision.limits import TIERS
from localvision.models import Backend
from localvision.persistence import Store

TRAINING_KEY_ENV = "LOCALVISION_TRAINING_KEY"
PREDICTION_KEY_ENV = "LOCALVISION_PREDICTION_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localvision",
        description="A local server that speaks the Azure AI Custom Vision training and prediction APIs.",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="folder that keeps projects, images and models"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5100, help="port to listen on (default 5100)")
    parser.add_argument(
        "--training-key",
        default=os.environ.get(TRAINING_KEY_ENV),
        help=f"Training-Key value (or ${TRAINING_KEY_ENV})",
    )
    parser.add_argument(
        "--prediction-key",
        default=os.environ.get(PREDICTION_KEY_ENV),
        help=f"Prediction-Key value (or ${PREDICTION_KEY_ENV})",
    )
    parser.add_argument("--tier", choices=sorted(TIERS), help="apply a pricing tier's limits (default: none)")
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let the *_url operations fetch loopback and private addresses (off by default)",
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="inject faults, e.g. 429:0.2,500:0.1,slow:0.1,drop:0.05,trainfail:1.0",
    )
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for reproducible fault draws")
    parser.add_argument(
        "--fault-slow-seconds", type=float, default=3.0, help="how long a 'slow' fault waits (default 3)"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.training_key:
        parser.error(f"no training key: pass --training-key KEY or set {TRAINING_KEY_ENV}")
    if not args.prediction_key:
        parser.error(f"no prediction key: pass --prediction-key KEY or set {PREDICTION_KEY_ENV}")
    try:
        faults = Faults(parse_spec(args.faults), args.fault_seed, args.fault_slow_seconds)
    except FaultSpecError as error:
        parser.error(str(error))
    if args.fault_slow_seconds < 0:
        parser.error("--fault-slow-seconds must be 0 or more")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    tier = TIERS[args.tier] if args.tier else None
    backend = Backend(Store(args.data), Engine(), tier, faults)
    app = LocalVisionApp(
        Handlers(backend, args.allow_private_urls), args.training_key, args.prediction_key, tier, faults
    )
    # The service answers a bad key with reason phrase "Access Denied"; the SDK shows that phrase.
    h11_impl.STATUS_PHRASES[401] = b"Access Denied"
    endpoint = f"http://{args.host}:{args.port}"
    print(
        f"localvision serving {endpoint} (training: {endpoint}/customvision/v3.4-preview/training, "
        f"prediction: "
        f"{endpoint}/customvision/v3.1/prediction; data: {args.data}; tier: {args.tier or 'none'}"
        f"{'; faults: ' + args.faults if faults.enabled else ''})",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        http="h11",
        lifespan="off",
        access_log=False,
        log_level=args.log_level,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
