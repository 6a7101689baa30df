"""Policy checks of infra/ with checkov (its own venv, .venv-checkov), offline.

checkov exits 0 when a file does not parse (it bundles an older pycep), so the JSON report is read instead:
any parsing error, any failed check or any skip without a justification fails. Skips are written inside
the resource as ``// checkov:skip=ID:reason``, next to the setting they are about.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import parse

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
# Files under infra/ checkov is not given, with why. Each declares no resource, so no check is lost.
NOT_CHECKED = {
    "core/deployer.bicep": "checkov's bundled Bicep parser cannot read deployer() (see the last test)",
}


def run_checkov(directory: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The bicep report of checkov for one directory, never reaching the network."""
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is not installed at {CHECKOV}: run `make install` "
            "(it installs requirements-checkov.txt into .venv-checkov)"
        )
    command = [str(CHECKOV), "-d", str(directory), "--framework", "bicep", "--skip-download", "-o", "json"]
    command += [argument for path in skip for argument in ("--skip-path", path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=directory, timeout=300, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov gave no JSON report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    reports = report if isinstance(report, list) else [report]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert bicep, f"checkov reported no bicep results:\n{done.stdout[:2000]}"
    return bicep[0]


def problems(report: dict[str, Any]) -> list[str]:
    """Everything in a checkov report that must fail the build, one line each."""
    results = report["results"]
    found = [f"parse error (checkov's parser): {path}" for path in results.get("parsing_errors", [])]
    found += [
        f"FAILED {c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']} ({c.get('guideline')})"
        for c in results.get("failed_checks", [])
    ]
    found += [
        f"skip without a reason: {c['check_id']} {c['file_path']} {c['resource']}"
        for c in results.get("skipped_checks", [])
        if not (c.get("check_result") or {}).get("suppress_comment", "").strip()
    ]
    return found


@pytest.fixture(scope="module")
def infra_report() -> dict[str, Any]:
    return run_checkov(PROJECT_ROOT / "infra", tuple(NOT_CHECKED))


def test_files_checkov_is_not_given_declare_no_resource() -> None:
    for path in NOT_CHECKED:
        tree = parse(PROJECT_ROOT / "infra" / path)
        assert not tree.get("resources") and not tree.get("modules"), (
            f"{path} declares what checkov should check"
        )


def test_infra_passes_checkov(infra_report: dict[str, Any]) -> None:
    found = problems(infra_report)
    assert not found, "checkov on infra/:\n  " + "\n  ".join(found)


def test_checkov_really_checked_the_resources(infra_report: dict[str, Any]) -> None:
    summary = infra_report["summary"]
    assert summary["resource_count"] >= 20, summary
    # Conditional resources (the key secrets, the optional role assignments) are found but not checked by
    # checkov; the per-file check below is what proves every module was read.
    assert summary["passed"] >= 15, summary
    results = infra_report["results"]
    # A check skipped with its reason was run too (the skip is in the report with that reason).
    checked = {c["file_path"] for c in results["passed_checks"] + results["skipped_checks"]}
    for module in (
        "/core/storage.bicep",
        "/core/keyvault.bicep",
        "/app/function.bicep",
        "/app/customvision.bicep",
        "/app/localvision.bicep",
    ):
        assert module in checked, f"checkov ran no check on {module}"


def test_a_file_checkov_cannot_parse_is_reported(tmp_path: Path) -> None:
    # checkov's bundled parser cannot read deployer(); it still exits 0, so the report must catch it.
    (tmp_path / "broken.bicep").write_text(
        "param owner string = deployer().objectId\n"
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: owner\n  location: 'westeurope'\n  kind: 'StorageV2'\n"
        "  sku: {\n    name: 'Standard_LRS'\n  }\n}\n"
    )
    found = problems(run_checkov(tmp_path))
    assert found == [f"parse error (checkov's parser): {tmp_path / 'broken.bicep'}"]


def test_every_skip_comment_is_one_checkov_used(infra_report: dict[str, Any]) -> None:
    # A skip for a check that never runs on that file is a stale comment that explains nothing.
    used = {(c["file_path"], c["check_id"]) for c in infra_report["results"]["skipped_checks"]}
    written = {
        (f"/{path.relative_to(PROJECT_ROOT / 'infra').as_posix()}", check)
        for path in (PROJECT_ROOT / "infra").rglob("*.bicep")
        for check in re.findall(r"checkov:skip=(CKV_[A-Z]+_\d+)", path.read_text())
    }
    assert written == used, (
        f"unused: {sorted(written - used)}; used but not written: {sorted(used - written)}"
    )
