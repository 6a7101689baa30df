#!/bin/sh
# azd postdeploy hook: subscribe the classify function to BlobCreated events of the images container.
# The steps (refresh Key Vault references, wait for indexing, read the blobs_extension key, warm the app,
# create the Event Grid subscription) are in postdeploy.py, which the Windows hook runs too.
# Needs Python 3 and az (signed in); run by hand, it reads the azd environment's values itself.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
  echo "postdeploy: Python 3 (python3) is not on PATH; install it, then run scripts/postdeploy.sh again." >&2
  exit 1
fi
exec python3 "$here/postdeploy.py" "$@"
