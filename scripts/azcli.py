"""What the azd hooks share: the azd environment's values and the Azure CLI, called with bounded retries.

Standard library only: the hooks run on the deployer's machine with nothing but Python 3 and `az` (signed in).
Every az call targets azd's subscription (AZURE_SUBSCRIPTION_ID), not the CLI's current one: commands get
--subscription, and `az rest` (which has no such option) takes it from the /subscriptions/<id>/ URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class HookError(Exception):
    """A failure the hook reports as one message (what happened, what to do) and exits 1 on."""


def say(hook: str, message: str) -> None:
    print(f"{hook}: {message}", flush=True)


def warn(hook: str, message: str) -> None:
    print(f"{hook}: {message}", file=sys.stderr, flush=True)


def _azd_values() -> dict[str, str]:
    """The azd environment's values (`azd env get-values` prints KEY="value" lines)."""
    azd = shutil.which("azd")
    if azd is None:
        return {}
    done = subprocess.run([azd, "env", "get-values"], capture_output=True, text=True, check=False)
    values = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip('"')
    return values


def environment(hook: str, required: Sequence[str], trigger: str) -> dict[str, str]:
    """os.environ, plus the azd environment's values when run by hand (azd exports them to hooks).

    ``trigger`` is a value azd always exports to the hook: when it is missing, the hook was started by hand.
    """
    values = dict(os.environ)
    if not values.get(trigger):
        values = {**_azd_values(), **{k: v for k, v in values.items() if v}}
    for name in required:
        if not values.get(name):
            raise HookError(f"{name} is not set; run 'azd provision' first (or 'azd env refresh').")
    return values


def number(values: dict[str, str], name: str, default: int) -> int:
    text = values.get(name) or str(default)
    try:
        return int(text)
    except ValueError:
        raise HookError(f"{name} must be a whole number, not {text!r}.") from None


@dataclass
class Az:
    """The Azure CLI for one hook and one subscription; a failed call is retried ``retries`` times."""

    hook: str
    subscription: str
    retries: int = 3
    delay: float = 10

    def __post_init__(self) -> None:
        found = shutil.which("az")
        if found is None:
            raise HookError(
                "the Azure CLI (az) is not installed or not on PATH. Install it "
                "(https://learn.microsoft.com/cli/azure/install-azure-cli), run 'az login', then run the "
                f"{self.hook} hook again."
            )
        self.path = found

    def check_signed_in(self) -> None:
        done = self._call(
            ["account", "show", "--subscription", self.subscription, "--query", "id", "-o", "tsv"]
        )
        if done.returncode != 0:
            raise HookError(
                f"the Azure CLI is not signed in to subscription {self.subscription} (azd's "
                "AZURE_SUBSCRIPTION_ID). Run 'az login' (with --tenant if needed), then run the "
                f"{self.hook} hook again. az said:\n{done.stderr.strip()}"
            )

    def run(self, what: str, args: Sequence[str]) -> str:
        """az's output; on the last failure, a HookError that says what failed with az's last error."""
        for attempt in range(1, self.retries + 1):
            done = self._call(args)
            if done.returncode == 0:
                return done.stdout.strip()
            if attempt == self.retries:
                raise HookError(
                    f"{what} failed {self.retries} times; the last error was:\n{done.stderr.strip()}"
                )
            warn(self.hook, f"{what} failed (try {attempt}/{self.retries}), retrying in {self.delay:g}s")
            time.sleep(self.delay)
        raise AssertionError("unreachable")

    def arm(self, path: str) -> str:
        """An ARM URL of azd's subscription (``az rest`` takes the subscription from it)."""
        return f"/subscriptions/{self.subscription}/{path.lstrip('/')}"

    def _call(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.path, *args], capture_output=True, text=True, check=False)


def main(hook: str, run: Callable[[], None]) -> None:
    """Run a hook's ``run()``; a HookError becomes one message on stderr and exit status 1."""
    try:
        run()
    except HookError as error:
        warn(hook, str(error))
        sys.exit(1)
