#!/bin/sh
# azd preprovision hook: check the azd environment's choices and, for the free Custom Vision tier,
# that the subscription holds no other free account of the same kind (preprovision.py, which the Windows
# hook runs too). Needs Python 3, and az (signed in) only when CUSTOM_VISION_SKU=F0; run by hand, it reads the
# azd environment's values itself.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
  echo "preprovision: Python 3 (python3) is not on PATH; install it, then run scripts/preprovision.sh again." >&2
  exit 1
fi
exec python3 "$here/preprovision.py" "$@"
