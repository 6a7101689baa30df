"""scripts/postdeploy.sh, run for real with stand-ins for `az` and `azd`.

Azure cannot be reached from the tests, so `az` is a small script on PATH that answers like the CLI would
(the function keys, the Event Grid PUT and GET) and records each call; everything else is the real hook.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.paths import PROJECT_ROOT

HOOK = PROJECT_ROOT / "scripts" / "postdeploy.sh"
KEY = "blobs-extension-key-value"
STORAGE_ID = "/subscriptions/sub-1/resourceGroups/rg-dev/providers/Microsoft.Storage/storageAccounts/stabc"
ENVIRONMENT = {
    "AZURE_SUBSCRIPTION_ID": "sub-1",
    "RESOURCE_GROUP": "rg-dev",
    "AZURE_FUNCTION_APP_NAME": "func-abc",
    "SERVICE_PIPELINE_BASE_URL": "https://func-abc.azurewebsites.net",
    "EVENTGRID_SYSTEM_TOPIC_NAME": "egst-abc",
    "AZURE_STORAGE_ACCOUNT_ID": STORAGE_ID,
    "IMAGES_CONTAINER": "images",
    "EVENTGRID_DEADLETTER_CONTAINER": "eventgrid-deadletter",
    "CLASSIFY_FUNCTION_NAME": "classify",
}

# Stand-in for the Azure CLI. Behaviour comes from environment variables set by each test:
# FAKE_KEY_AFTER (the key appears on that call of `functionapp keys list`), FAKE_STATES (provisioning states
# returned by successive GETs, comma-separated), FAKE_FAIL_<OP>=N (the first N calls of OP fail with a
# numbered error on stderr; OP is ACCOUNT, KEYS, PUT or GET; "all" fails every call). Each call is appended
# to $FAKE_LOG as JSON; a PUT body too.
FAKE_AZ = """
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
log = Path(os.environ["FAKE_LOG"])
state = Path(os.environ["FAKE_LOG"] + ".state")
counts = json.loads(state.read_text()) if state.exists() else {}
entry = {"args": args}
if args[:2] == ["account", "show"]:
    op = "ACCOUNT"
elif args[:3] == ["functionapp", "keys", "list"]:
    op = "KEYS"
elif args[:3] == ["rest", "--method", "put"]:
    op = "PUT"
elif args[:3] == ["rest", "--method", "get"]:
    op = "GET"
else:
    print("unexpected az call: " + " ".join(args), file=sys.stderr)
    sys.exit(2)
counts[op] = counts.get(op, 0) + 1
state.write_text(json.dumps(counts))
if op == "PUT":
    body = args[args.index("--body") + 1].removeprefix("@")
    entry["body"] = json.loads(Path(body).read_text())
    entry["body_mode"] = oct(Path(body).stat().st_mode & 0o777)
    entry["body_path"] = body
with log.open("a") as f:
    f.write(json.dumps(entry) + "\\n")
failing = os.environ.get("FAKE_FAIL_" + op, "0")
if failing == "all" or counts[op] <= int(failing):
    print(f"ERROR: (FakeError) {op} failure number {counts[op]}", file=sys.stderr)
    sys.exit(1)
if op == "ACCOUNT":
    print(args[args.index("--subscription") + 1])
elif op == "KEYS":
    if counts["KEYS"] >= int(os.environ.get("FAKE_KEY_AFTER", "1")):
        print(os.environ["FAKE_KEY"])
elif op == "GET":
    states = os.environ.get("FAKE_STATES", "Succeeded").split(",")
    print(states[min(counts["GET"], len(states)) - 1])
"""


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(f"#!{sys.executable}\n{FAKE_AZ}")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    # `azd env get-values` prints KEY="value" lines; the hook reads them when run outside azd.
    azd = bin_dir / "azd"
    values = "".join(f'{k}="{v}"\\n' for k, v in ENVIRONMENT.items())
    azd.write_text(f'#!/bin/sh\n[ "$*" = "env get-values" ] || exit 2\nprintf \'{values}\'\n')
    azd.chmod(azd.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_hook(fake_bin: Path, tmp_path: Path, **overrides: str) -> tuple[subprocess.CompletedProcess, list]:
    log = tmp_path / "az.log"
    env = {
        "PATH": f"{fake_bin}{os.pathsep}/usr/bin:/bin",
        "POSTDEPLOY_RETRIES": "3",
        "FAKE_LOG": str(log),
        "FAKE_KEY": KEY,
        "POSTDEPLOY_DELAY_SECONDS": "0",
        "POSTDEPLOY_ATTEMPTS": "3",
        **ENVIRONMENT,
        **overrides,
    }
    env = {k: v for k, v in env.items() if v}
    done = subprocess.run(["sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def operation(call: dict) -> str:
    args = call["args"]
    if args[:2] == ["account", "show"]:
        return "account"
    if args[:3] == ["functionapp", "keys", "list"]:
        return "keys"
    return args[2] if args[:2] == ["rest", "--method"] else " ".join(args)


def count(calls: list[dict], op: str) -> int:
    return sum(operation(c) == op for c in calls)


def test_creates_the_subscription_to_the_classify_webhook(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_KEY_AFTER="2", FAKE_STATES="Creating,Succeeded")
    assert done.returncode == 0, done.stderr
    puts = [c for c in calls if c["args"][:3] == ["rest", "--method", "put"]]
    assert len(puts) == 1
    url = puts[0]["args"][puts[0]["args"].index("--url") + 1]
    assert url == (
        "/subscriptions/sub-1/resourceGroups/rg-dev/providers/Microsoft.EventGrid/systemTopics/egst-abc"
        "/eventSubscriptions/classifyimages?api-version=2022-06-15"
    )
    props = puts[0]["body"]["properties"]
    assert props["destination"]["endpointType"] == "WebHook"
    assert props["destination"]["properties"]["endpointUrl"] == (
        "https://func-abc.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.classify"
        f"&code={KEY}"
    )
    assert props["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert props["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/images/"
    assert props["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}
    dead_letter = props["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    assert dead_letter["deadLetterDestination"] == {
        "endpointType": "StorageBlob",
        "properties": {"resourceId": STORAGE_ID, "blobContainerName": "eventgrid-deadletter"},
    }
    # The key went through a private file that is gone afterwards, and never to the output.
    assert puts[0]["body_mode"] == "0o600"
    assert not Path(puts[0]["body_path"]).exists()
    assert KEY not in done.stdout + done.stderr
    assert "code=***" in done.stdout
    # It waited for the key (second try) and for Event Grid's webhook validation (second GET).
    assert count(calls, "keys") == 2
    assert count(calls, "get") == 2
    # The sign-in is checked first, and every call targets azd's subscription, not the CLI's current one.
    assert operation(calls[0]) == "account"
    assert_every_call_targets_the_azd_subscription(calls)


def test_fails_clearly_when_the_key_never_appears(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_KEY_AFTER="99")
    assert done.returncode != 0
    assert "no blobs_extension key after 3 attempts" in done.stderr
    assert not [c for c in calls if c["args"][:2] == ["rest", "--method"]], (
        "nothing is created without the key"
    )


def test_fails_when_event_grid_rejects_the_webhook(fake_bin: Path, tmp_path: Path) -> None:
    done, _ = run_hook(fake_bin, tmp_path, FAKE_STATES="Failed")
    assert done.returncode != 0
    assert "webhook validation failed" in done.stderr
    assert KEY not in done.stdout + done.stderr


def test_names_a_missing_environment_value(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, EVENTGRID_SYSTEM_TOPIC_NAME="")
    assert done.returncode != 0
    assert "EVENTGRID_SYSTEM_TOPIC_NAME is not set" in done.stderr
    assert calls == []


def test_reads_the_azd_environment_when_run_by_hand(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, **dict.fromkeys(ENVIRONMENT, ""))
    assert done.returncode == 0, done.stderr
    put = next(c for c in calls if c["args"][:3] == ["rest", "--method", "put"])
    assert (
        put["body"]["properties"]["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/images/"
    )


def assert_every_call_targets_the_azd_subscription(calls: list[dict]) -> None:
    assert calls
    for call in calls:
        args = call["args"]
        if args[0] == "rest":
            # `az rest` has no --subscription; it takes the token's subscription from the ARM URL.
            assert args[args.index("--url") + 1].startswith("/subscriptions/sub-1/"), args
            assert "--subscription" not in args, "az rest rejects --subscription"
        else:
            assert args[args.index("--subscription") + 1] == "sub-1", f"az {' '.join(args)}"


def test_names_a_missing_azure_cli(fake_bin: Path, tmp_path: Path) -> None:
    (fake_bin / "az").unlink()
    done, calls = run_hook(fake_bin, tmp_path)
    assert done.returncode == 1
    assert "the Azure CLI (az) is not installed or not on PATH" in done.stderr
    assert "key not there yet" not in done.stdout, "no waiting for a key without az"
    assert calls == []


def test_stops_at_once_when_az_is_not_signed_in(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_FAIL_ACCOUNT="all")
    assert done.returncode == 1
    assert "the Azure CLI is not signed in to subscription sub-1" in done.stderr
    assert "Run 'az login'" in done.stderr
    assert "ACCOUNT failure number 1" in done.stderr, "az's own error is shown"
    assert [operation(c) for c in calls] == ["account"], "nothing else is tried"
    assert_every_call_targets_the_azd_subscription(calls)


def test_retries_transient_failures_of_every_call(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(
        fake_bin, tmp_path, FAKE_FAIL_KEYS="2", FAKE_FAIL_PUT="1", FAKE_FAIL_GET="2", FAKE_STATES="Succeeded"
    )
    assert done.returncode == 0, done.stderr
    assert count(calls, "keys") == 3
    assert count(calls, "put") == 2
    assert count(calls, "get") == 3
    assert "reading the function keys of func-abc failed (try 2/3), retrying" in done.stderr
    assert "creating the Event Grid subscription failed (try 1/3), retrying" in done.stderr
    assert "Event Grid subscription 'classifyimages' is ready" in done.stdout
    assert_every_call_targets_the_azd_subscription(calls)


@pytest.mark.parametrize(
    ("op", "what", "calls_before"),
    [
        ("KEYS", "reading the function keys of func-abc", ["account"]),
        ("PUT", "creating the Event Grid subscription", ["account", "keys"]),
        ("GET", "reading the Event Grid subscription's state", ["account", "keys", "put"]),
    ],
)
def test_a_persistent_failure_is_bounded_and_shows_the_last_error(
    fake_bin: Path, tmp_path: Path, op: str, what: str, calls_before: list[str]
) -> None:
    # E.g. an app that does not exist: three tries (POSTDEPLOY_RETRIES), not POSTDEPLOY_ATTEMPTS x delay.
    done, calls = run_hook(fake_bin, tmp_path, POSTDEPLOY_ATTEMPTS="30", **{f"FAKE_FAIL_{op}": "all"})
    assert done.returncode == 1
    assert f"postdeploy: {what} failed 3 times; the last error was:" in done.stderr
    assert f"{op} failure number 3" in done.stderr
    assert f"{op} failure number 1" not in done.stderr, "only the last failure's error output is shown"
    assert [operation(c) for c in calls] == [*calls_before, op.lower(), op.lower(), op.lower()]
    assert KEY not in done.stdout + done.stderr
