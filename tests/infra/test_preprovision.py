"""scripts/preprovision.sh (which runs scripts/preprovision.py), run for real with a stand-in `az`.

Azure cannot be reached from the tests, so `az` is a small script on PATH that answers the account listings
like the CLI would (live accounts from $FAKE_ACCOUNTS, soft-deleted ones from $FAKE_DELETED) and records each
call; everything else is the real hook.
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

HOOK = PROJECT_ROOT / "scripts" / "preprovision.sh"
ENVIRONMENT = {"AZURE_SUBSCRIPTION_ID": "sub-1", "AZURE_ENV_NAME": "dev", "CUSTOM_VISION_SKU": "F0"}
FAKE_AZ = """
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["account", "show"]:
    print("sub-1")
elif args[:3] == ["cognitiveservices", "account", "list"]:
    print(os.environ.get("FAKE_ACCOUNTS", "[]"))
elif args[:3] == ["cognitiveservices", "account", "list-deleted"]:
    print(os.environ.get("FAKE_DELETED", "[]"))
else:
    print("unexpected az call: " + " ".join(args), file=sys.stderr)
    sys.exit(2)
"""


def account(name: str, kind: str, sku: str | None, group: str, deleted: bool = False) -> dict:
    found = {"name": name, "kind": kind, "sku": sku, "location": "westeurope"}
    if deleted:  # a deleted account has no resourceGroup field; its id holds it
        found["id"] = (
            f"/subscriptions/sub-1/providers/Microsoft.CognitiveServices/locations/westeurope"
            f"/resourceGroups/{group}/deletedAccounts/{name}"
        )
    else:
        found["resourceGroup"] = group
    return found


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(f"#!{sys.executable}\n{FAKE_AZ}")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_hook(fake_bin: Path, tmp_path: Path, **overrides: str) -> tuple[subprocess.CompletedProcess, list]:
    log = tmp_path / "az.log"
    env = {"PATH": f"{fake_bin}{os.pathsep}/usr/bin:/bin", "FAKE_LOG": str(log), **ENVIRONMENT, **overrides}
    env = {k: v for k, v in env.items() if v}
    done = subprocess.run(["sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_names_existing_and_soft_deleted_free_accounts_and_what_to_do(fake_bin: Path, tmp_path: Path) -> None:
    accounts = [
        account("lab-training", "CustomVision.Training", "F0", "rg-learn"),
        account("paid-prediction", "CustomVision.Prediction", "S0", "rg-other"),  # S0: no conflict
        account("cstvt-own", "CustomVision.Training", "F0", "rg-dev"),  # this environment's own: kept
        account("speech", "SpeechServices", "F0", "rg-learn"),  # another kind: no conflict
    ]
    deleted = [
        account("old-prediction", "CustomVision.Prediction", "F0", "rg-gone", deleted=True),
        account("old-paid", "CustomVision.Training", "S0", "rg-gone", deleted=True),  # S0: no conflict
        account("old-unknown", "CustomVision.Training", None, "rg-gone", deleted=True),  # may count: named
    ]
    done, calls = run_hook(
        fake_bin, tmp_path, FAKE_ACCOUNTS=json.dumps(accounts), FAKE_DELETED=json.dumps(deleted)
    )
    assert done.returncode == 1
    assert "one free (F0) Custom Vision account of each kind" in done.stderr
    assert "CustomVision.Training 'lab-training' in resource group 'rg-learn' (westeurope)" in done.stderr
    assert "az cognitiveservices account delete -n lab-training -g rg-learn" in done.stderr
    assert (
        "CustomVision.Prediction 'old-prediction', soft-deleted, of resource group 'rg-gone'" in done.stderr
    )
    assert "az cognitiveservices account purge -n old-prediction -g rg-gone -l westeurope" in done.stderr
    assert "azd env set CUSTOM_VISION_SKU S0" in done.stderr
    assert "CustomVision.Training 'old-unknown', soft-deleted (tier not reported)" in done.stderr
    for name in ("paid-prediction", "cstvt-own", "speech", "old-paid"):
        assert name not in done.stderr
    assert "Traceback" not in done.stderr
    for call in calls:
        assert call[call.index("--subscription") + 1] == "sub-1", "every call targets azd's subscription"


def test_f0_proceeds_when_no_other_free_account_exists(fake_bin: Path, tmp_path: Path) -> None:
    accounts = [account("cstvt-own", "CustomVision.Training", "F0", "RG-DEV")]
    done, calls = run_hook(fake_bin, tmp_path, FAKE_ACCOUNTS=json.dumps(accounts))
    assert done.returncode == 0, done.stderr
    assert "F0 can be created" in done.stdout
    assert [call[:3] for call in calls] == [
        ["account", "show", "--subscription"],
        ["cognitiveservices", "account", "list"],
        ["cognitiveservices", "account", "list-deleted"],
    ]


@pytest.mark.parametrize(
    "overrides",
    [{"CUSTOM_VISION_SKU": ""}, {"CUSTOM_VISION_SKU": "S0"}, {"VISION_BACKEND": "selfhosted"}],
    ids=["default-s0", "s0", "selfhosted-with-f0"],
)
def test_nothing_is_looked_up_without_a_free_custom_vision_account(
    fake_bin: Path, tmp_path: Path, overrides: dict[str, str]
) -> None:
    (fake_bin / "az").unlink()  # not even az is needed
    done, calls = run_hook(fake_bin, tmp_path, **overrides)
    assert done.returncode == 0, done.stderr
    assert "no free-tier check needed" in done.stdout
    assert calls == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CUSTOM_VISION_SKU", "f0"),
        ("CUSTOMVISION_AUTH", "token"),
        ("VISION_BACKEND", "local"),
        ("CLASSIFIER_MODE", "x"),
    ],
)
def test_a_choice_infra_would_refuse_is_named(fake_bin: Path, tmp_path: Path, name: str, value: str) -> None:
    done, calls = run_hook(fake_bin, tmp_path, **{name: value})
    assert done.returncode == 1
    assert f"{name}={value!r} is not one of" in done.stderr
    assert f"azd env set {name} <value>" in done.stderr
    assert calls == []


def test_a_missing_azure_cli_is_named_for_f0(fake_bin: Path, tmp_path: Path) -> None:
    (fake_bin / "az").unlink()
    done, _ = run_hook(fake_bin, tmp_path)
    assert done.returncode == 1
    assert "the Azure CLI (az) is not installed or not on PATH" in done.stderr


def test_the_selfhosted_backend_with_identity_auth_is_refused(fake_bin: Path, tmp_path: Path) -> None:
    done, calls = run_hook(fake_bin, tmp_path, VISION_BACKEND="selfhosted", CUSTOMVISION_AUTH="identity")
    assert done.returncode == 1
    assert "CUSTOMVISION_AUTH=identity needs VISION_BACKEND=customvision" in done.stderr
    assert "azd env set CUSTOMVISION_AUTH key" in done.stderr
    assert calls == []
