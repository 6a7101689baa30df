"""scripts/postdeploy.sh (which runs scripts/postdeploy.py), run for real with stand-ins for `az` and `azd`.

Azure cannot be reached from the tests, so `az` is a small script on PATH that answers like the CLI would
(Key Vault reference refresh and status, the function list, the function keys, restart, the Event Grid PUT and
GET) and records each call; the app the hook warms is a local HTTP server; everything else is the real hook.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    "EVENTGRID_SYSTEM_TOPIC_NAME": "egst-abc",
    "AZURE_STORAGE_ACCOUNT_ID": STORAGE_ID,
    "IMAGES_CONTAINER": "images",
    "EVENTGRID_DEADLETTER_CONTAINER": "eventgrid-deadletter",
    "CLASSIFY_FUNCTION_NAME": "classify",
}
SITE = "/subscriptions/sub-1/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-abc"

# Stand-in for the Azure CLI. Behaviour comes from environment variables set by each test: FAKE_UNRESOLVED
# (that many reads of the Key Vault references' status list one unresolved reference), FAKE_INDEXED_AFTER
# (classify is listed from that call of `functionapp function list` on), FAKE_KEY_AFTER (the key appears on
# that call of `functionapp keys list`), FAKE_STATES (provisioning states returned by successive
# subscription GETs, comma-separated), FAKE_FAIL_<OP>=N (the first N calls of OP fail with a numbered error
# on stderr; "all" fails every call). Each call is appended to $FAKE_LOG as JSON; a PUT body too.
FAKE_AZ = """
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
log = Path(os.environ["FAKE_LOG"])
state = Path(os.environ["FAKE_LOG"] + ".state")
counts = json.loads(state.read_text()) if state.exists() else {}
entry = {"args": args}
url = args[args.index("--url") + 1] if "--url" in args else ""
if args[:2] == ["account", "show"]:
    op = "ACCOUNT"
elif args[:3] == ["rest", "--method", "post"] and "/config/configreferences/appsettings/refresh?" in url:
    op = "REFRESH"
elif args[:3] == ["rest", "--method", "get"] and "/config/configreferences/appsettings?" in url:
    op = "REFS"
elif args[:2] == ["functionapp", "restart"]:
    op = "RESTART"
elif args[:3] == ["functionapp", "function", "list"]:
    op = "FUNCTIONS"
elif args[:3] == ["functionapp", "keys", "list"]:
    op = "KEYS"
elif args[:3] == ["rest", "--method", "put"] and "/eventSubscriptions/" in url:
    op = "PUT"
elif args[:3] == ["rest", "--method", "get"] and "/eventSubscriptions/" in url:
    op = "GET"
else:
    print("unexpected az call: " + " ".join(args), file=sys.stderr)
    sys.exit(2)
counts[op] = counts.get(op, 0) + 1
state.write_text(json.dumps(counts))
entry["op"] = op
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
elif op == "REFS":
    unresolved = counts[op] <= int(os.environ.get("FAKE_UNRESOLVED", "0"))
    print(json.dumps(["CUSTOMVISION_TRAINING_KEY"] if unresolved else []))
elif op == "FUNCTIONS":
    names = ["func-abc/retrain"]
    if counts[op] >= int(os.environ.get("FAKE_INDEXED_AFTER", "1")):
        names.append("func-abc/classify")
    print("\\n".join(names))
elif op == "KEYS":
    if counts["KEYS"] >= int(os.environ.get("FAKE_KEY_AFTER", "1")):
        print(os.environ["FAKE_KEY"])
elif op == "GET":
    states = os.environ.get("FAKE_STATES", "Succeeded").split(",")
    print(states[min(counts["GET"], len(states)) - 1])
"""


class FakeApp(ThreadingHTTPServer):
    """The deployed app as the hook's warm-up sees it: answers ``statuses`` in turn (then the last one) and
    appends each request to the same log as the stand-in az, so the order of calls can be checked."""

    log: Path
    statuses: list[int]


class _Handler(BaseHTTPRequestHandler):
    server: FakeApp

    def do_GET(self) -> None:
        status = self.server.statuses.pop(0) if len(self.server.statuses) > 1 else self.server.statuses[0]
        with self.server.log.open("a") as f:
            f.write(json.dumps({"op": "WARM", "path": self.path, "status": status}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FakeApp]:
    server = FakeApp(("127.0.0.1", 0), _Handler)
    server.log, server.statuses = tmp_path / "az.log", [200]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_bin(tmp_path: Path, app: FakeApp) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(f"#!{sys.executable}\n{FAKE_AZ}")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    # `azd env get-values` prints KEY="value" lines; the hook reads them when run outside azd.
    values = "".join(
        f'{k}="{v}"\\n' for k, v in {**ENVIRONMENT, "SERVICE_PIPELINE_BASE_URL": base(app)}.items()
    )
    azd = bin_dir / "azd"
    azd.write_text(f'#!/bin/sh\n[ "$*" = "env get-values" ] || exit 2\nprintf \'{values}\'\n')
    azd.chmod(azd.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "app-url").write_text(base(app))
    return bin_dir


def base(app: FakeApp) -> str:
    return f"http://127.0.0.1:{app.server_address[1]}"


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
        "SERVICE_PIPELINE_BASE_URL": (tmp_path / "app-url").read_text(),
        **overrides,
    }
    env = {k: v for k, v in env.items() if v}
    done = subprocess.run(["sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def operation(call: dict) -> str:
    return call["op"].lower()


def count(calls: list[dict], op: str) -> int:
    return sum(operation(c) == op for c in calls)


def ops(calls: list[dict]) -> list[str]:
    """The calls in order, repeats of the same step folded into one."""
    folded: list[str] = []
    for call in calls:
        if not folded or folded[-1] != operation(call):
            folded.append(operation(call))
    return folded


def test_creates_the_subscription_to_the_classify_webhook(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_KEY_AFTER="2", FAKE_STATES="Creating,Succeeded")
    assert done.returncode == 0, done.stderr
    puts = [c for c in calls if operation(c) == "put"]
    assert len(puts) == 1
    url = puts[0]["args"][puts[0]["args"].index("--url") + 1]
    assert url == (
        "/subscriptions/sub-1/resourceGroups/rg-dev/providers/Microsoft.EventGrid/systemTopics/egst-abc"
        "/eventSubscriptions/classifyimages?api-version=2022-06-15"
    )
    props = puts[0]["body"]["properties"]
    assert props["destination"]["endpointType"] == "WebHook"
    assert props["destination"]["properties"]["endpointUrl"] == (
        f"{(tmp_path / 'app-url').read_text()}/runtime/webhooks/blobs?functionName=Host.Functions.classify"
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
    # The sign-in is checked first, then the steps in their order; every call targets azd's subscription.
    assert ops(calls) == ["account", "refresh", "refs", "functions", "keys", "warm", "put", "get"]
    assert_every_call_targets_the_azd_subscription(calls)


def test_refreshes_key_vault_references_and_restarts_when_one_was_unresolved(
    fake_bin: Path, tmp_path: Path
) -> None:
    # A reference that failed at the first start (role assignment still propagating): refreshed, resolved on
    # the third read, then the app is restarted so that it imports function_app.py with the secret.
    done, calls = run_hook(fake_bin, tmp_path, FAKE_UNRESOLVED="2", POSTDEPLOY_ATTEMPTS="5")
    assert done.returncode == 0, done.stderr
    assert count(calls, "refresh") == 1
    assert count(calls, "refs") == 3
    assert ops(calls)[:6] == ["account", "refresh", "refs", "restart", "functions", "keys"]
    refresh = next(c for c in calls if operation(c) == "refresh")["args"]
    assert refresh[refresh.index("--url") + 1] == (
        f"{SITE}/config/configreferences/appsettings/refresh?api-version=2022-03-01"
    )
    assert "unresolved Key Vault references CUSTOMVISION_TRAINING_KEY (check 1/5)" in done.stdout
    assert_every_call_targets_the_azd_subscription(calls)


def test_no_restart_when_every_reference_resolved(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path)
    assert done.returncode == 0, done.stderr
    assert count(calls, "refresh") == 1
    assert count(calls, "restart") == 0


def test_fails_clearly_when_a_reference_never_resolves(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_UNRESOLVED="99")
    assert done.returncode == 1
    assert "Key Vault references still unresolved after 3 checks: CUSTOMVISION_TRAINING_KEY" in done.stderr
    assert "Key Vault Secrets User" in done.stderr
    assert count(calls, "keys") == 0 and count(calls, "put") == 0


def test_waits_for_the_functions_to_be_indexed_before_asking_for_the_key(
    fake_bin: Path, tmp_path: Path
) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_INDEXED_AFTER="3")
    assert done.returncode == 0, done.stderr
    assert count(calls, "functions") == 3
    assert ops(calls).index("keys") > ops(calls).index("functions")
    assert "functions not indexed yet (check 2/3)" in done.stdout
    assert "2 functions indexed, classify among them" in done.stdout


def test_fails_clearly_when_the_functions_are_never_indexed(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_INDEXED_AFTER="99")
    assert done.returncode == 1
    assert "the function classify is not indexed after 3 checks" in done.stderr
    assert "azd deploy" in done.stderr
    assert count(calls, "keys") == 0, "no key is asked for before the functions are indexed"


def test_warms_the_app_before_creating_the_subscription(fake_bin: Path, tmp_path: Path, app: FakeApp) -> None:
    app.statuses = [503, 503, 404]  # cold, cold, then the worker answers (any answer below 500 will do)
    done, calls = run_hook(fake_bin, tmp_path, POSTDEPLOY_ATTEMPTS="5")
    assert done.returncode == 0, done.stderr
    warms = [c for c in calls if c["op"] == "WARM"]
    assert [w["status"] for w in warms] == [503, 503, 404]
    assert {w["path"] for w in warms} == {"/api/console/"}
    assert ops(calls)[-3:] == ["warm", "put", "get"]
    assert "the app answers (404 from /api/console/)" in done.stdout


def test_fails_clearly_when_the_app_never_answers(fake_bin: Path, tmp_path: Path, app: FakeApp) -> None:
    app.statuses = [503]
    done, calls = run_hook(fake_bin, tmp_path)
    assert done.returncode == 1
    assert "did not answer after 3 attempts" in done.stderr
    assert count(calls, "put") == 0


def test_retries_once_when_the_subscription_ends_failed(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_STATES="Failed,Succeeded")
    assert done.returncode == 0, done.stderr
    assert ops(calls)[-6:] == ["warm", "put", "get", "warm", "put", "get"]
    assert "ended Failed; warming the app and trying once more" in done.stderr
    assert "Event Grid subscription 'classifyimages' is ready" in done.stdout


def test_fails_when_event_grid_rejects_the_webhook_twice(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_STATES="Failed")
    assert done.returncode == 1
    assert count(calls, "put") == 2, "one retry, not more"
    assert "ended in state Failed; the webhook validation failed" in done.stderr
    assert KEY not in done.stdout + done.stderr


def test_fails_clearly_when_the_key_never_appears(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, FAKE_KEY_AFTER="99")
    assert done.returncode != 0
    assert "no blobs_extension key after 3 attempts" in done.stderr
    assert count(calls, "put") == 0, "nothing is created without the key"


def test_names_a_missing_environment_value(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, EVENTGRID_SYSTEM_TOPIC_NAME="")
    assert done.returncode != 0
    assert "EVENTGRID_SYSTEM_TOPIC_NAME is not set" in done.stderr
    assert calls == []


def test_reads_the_azd_environment_when_run_by_hand(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(
        fake_bin, tmp_path, **dict.fromkeys([*ENVIRONMENT, "SERVICE_PIPELINE_BASE_URL"], "")
    )
    assert done.returncode == 0, done.stderr
    put = next(c for c in calls if operation(c) == "put")
    assert (
        put["body"]["properties"]["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/images/"
    )


def assert_every_call_targets_the_azd_subscription(calls: list[dict]) -> None:
    calls = [c for c in calls if c["op"] != "WARM"]
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


def test_names_a_missing_python(fake_bin: Path, tmp_path: Path) -> None:
    # PATH without python3: only the stand-ins and a shell.
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("dirname", "sh"):
        (bare / tool).symlink_to(f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else f"/bin/{tool}")
    done, calls = run_hook(fake_bin, tmp_path, PATH=f"{fake_bin}{os.pathsep}{bare}")
    assert done.returncode == 1
    assert "Python 3 (python3) is not on PATH" in done.stderr
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
        fake_bin,
        tmp_path,
        FAKE_FAIL_REFRESH="1",
        FAKE_FAIL_FUNCTIONS="1",
        FAKE_FAIL_KEYS="2",
        FAKE_FAIL_PUT="1",
        FAKE_FAIL_GET="2",
        FAKE_STATES="Succeeded",
    )
    assert done.returncode == 0, done.stderr
    assert count(calls, "refresh") == 2
    assert count(calls, "functions") == 2
    assert count(calls, "keys") == 3
    assert count(calls, "put") == 2
    assert count(calls, "get") == 3
    assert "refreshing the Key Vault references failed (try 1/3), retrying" in done.stderr
    assert "reading the function keys of func-abc failed (try 2/3), retrying" in done.stderr
    assert "creating the Event Grid subscription failed (try 1/3), retrying" in done.stderr
    assert "Event Grid subscription 'classifyimages' is ready" in done.stdout
    assert_every_call_targets_the_azd_subscription(calls)


BEFORE_KEYS = ["account", "refresh", "refs", "functions"]


@pytest.mark.parametrize(
    ("op", "what", "calls_before"),
    [
        ("REFRESH", "refreshing the Key Vault references", ["account"]),
        ("FUNCTIONS", "listing the functions of func-abc", ["account", "refresh", "refs"]),
        ("KEYS", "reading the function keys of func-abc", BEFORE_KEYS),
        ("PUT", "creating the Event Grid subscription", [*BEFORE_KEYS, "keys", "warm"]),
        ("GET", "reading the Event Grid subscription's state", [*BEFORE_KEYS, "keys", "warm", "put"]),
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
