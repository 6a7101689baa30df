"""``python -m localvision --data DIR --host 127.0.0.1 --port 5100 --training-key K --prediction-key K``.

Every setting a container needs also comes from the environment (``LOCALVISION_*``, named in the help).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from azure.core.exceptions import AzureError

from localvision.auth import TrustedIssuer, TrustFileError
from localvision.faults import FaultSpecError, parse_spec
from localvision.limits import TIERS
from localvision.server import STORES, ServerOptions, serve_forever

TRAINING_KEY_ENV = "LOCALVISION_TRAINING_KEY"
PREDICTION_KEY_ENV = "LOCALVISION_PREDICTION_KEY"
TRUST_TOKEN_ISSUER_ENV = "LOCALVISION_TRUST_TOKEN_ISSUER"
DATA_ENV = "LOCALVISION_DATA"
HOST_ENV = "LOCALVISION_HOST"
PORT_ENV = "LOCALVISION_PORT"
STORE_ENV = "LOCALVISION_STORE"
CONTAINER_ENV = "LOCALVISION_BLOB_CONTAINER"
CONNECTION_STRING_ENV = "LOCALVISION_BLOB_CONNECTION_STRING"
ACCOUNT_URL_ENV = "LOCALVISION_BLOB_ACCOUNT_URL"


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"'{value}' is not a port number (1-65535)")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localvision",
        description="A local server that speaks the Azure AI Custom Vision training and prediction APIs.",
    )
    data = os.environ.get(DATA_ENV)
    parser.add_argument(
        "--data",
        required=not data,
        default=Path(data) if data else None,
        type=Path,
        help=f"folder that keeps projects, images and models; with --store blob a cache (or ${DATA_ENV})",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get(HOST_ENV, "127.0.0.1"),
        help=f"address to listen on (default 127.0.0.1, or ${HOST_ENV})",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=os.environ.get(PORT_ENV, "5100"),
        help=f"port to listen on (default 5100, or ${PORT_ENV})",
    )
    parser.add_argument(
        "--store",
        choices=STORES,
        default=os.environ.get(STORE_ENV, "files"),
        help=f"where the state is kept: the data folder (files, default) or a blob container (${STORE_ENV})",
    )
    parser.add_argument(
        "--blob-container",
        default=os.environ.get(CONTAINER_ENV),
        help=f"the blob container of --store blob (or ${CONTAINER_ENV})",
    )
    parser.add_argument(
        "--blob-connection-string",
        default=os.environ.get(CONNECTION_STRING_ENV),
        help=f"its storage account's connection string, e.g. Azurite's (or ${CONNECTION_STRING_ENV})",
    )
    parser.add_argument(
        "--blob-account-url",
        default=os.environ.get(ACCOUNT_URL_ENV),
        help="its storage account's blob URL, reached with an azure-identity credential (a managed "
        f"identity in Azure; AZURE_CLIENT_ID names a user-assigned one) (or ${ACCOUNT_URL_ENV})",
    )
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
    parser.add_argument(
        "--trust-token-issuer",
        type=Path,
        default=os.environ.get(TRUST_TOKEN_ISSUER_ENV) or None,
        metavar="FILE",
        help="also accept Authorization: Bearer tokens of the issuer this JSON file names (issuer, audience, "
        f"keys: its JWKS); see docs/localvision.md (or ${TRUST_TOKEN_ISSUER_ENV})",
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


def options_from(args: argparse.Namespace) -> ServerOptions:
    """The server options that parsed command-line arguments ask for."""
    return ServerOptions(
        host=args.host,
        tier=args.tier,
        faults=args.faults,
        fault_seed=args.fault_seed,
        fault_slow_seconds=args.fault_slow_seconds,
        allow_private_urls=args.allow_private_urls,
        log_level=args.log_level,
        store=args.store,
        blob_container=args.blob_container,
        blob_connection_string=args.blob_connection_string,
        blob_account_url=args.blob_account_url,
        trust_token_issuer=args.trust_token_issuer,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.training_key:
        parser.error(f"no training key: pass --training-key KEY or set {TRAINING_KEY_ENV}")
    if not args.prediction_key:
        parser.error(f"no prediction key: pass --prediction-key KEY or set {PREDICTION_KEY_ENV}")
    try:
        parse_spec(args.faults)
    except FaultSpecError as error:
        parser.error(str(error))
    if args.fault_slow_seconds < 0:
        parser.error("--fault-slow-seconds must be 0 or more")
    if args.store not in STORES:
        parser.error(f"--store must be one of {', '.join(STORES)} (${STORE_ENV} is '{args.store}')")
    if args.store == "blob" and not args.blob_container:
        parser.error(f"--store blob needs --blob-container NAME (or ${CONTAINER_ENV})")
    if args.store == "blob" and not (args.blob_connection_string or args.blob_account_url):
        parser.error(
            f"--store blob needs --blob-connection-string (or ${CONNECTION_STRING_ENV}) "
            f"or --blob-account-url (or ${ACCOUNT_URL_ENV})"
        )
    if args.trust_token_issuer:
        try:
            TrustedIssuer.load(args.trust_token_issuer)
        except TrustFileError as error:
            parser.error(str(error))
    options = options_from(args)
    endpoint = f"http://{args.host}:{args.port}"
    print(
        f"localvision serving {endpoint} (training: {endpoint}/customvision/v3.4-preview/training, "
        f"prediction: {endpoint}/customvision/v3.1/prediction; data: {args.data}; "
        f"store: {args.store}{' ' + args.blob_container if args.store == 'blob' else ''}; "
        f"tier: {args.tier or 'none'}"
        f"{'; faults: ' + args.faults if args.faults else ''})",
        flush=True,
    )
    try:
        serve_forever(args.data, args.training_key, args.prediction_key, args.port, options)
    except AzureError as error:  # the blob store cannot be reached or refused us
        print(
            f"localvision cannot use blob container '{args.blob_container}': {error.message}. "
            "Check the container name, the connection string or account URL, and the identity's access.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
