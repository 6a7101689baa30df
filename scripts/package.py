"""Build the deployment package azd deploys: the repository folder minus the .funcignore rules, as a zip.

`make package` runs it and prints the zip's path as its last line. The rules follow gitignore for the forms
.funcignore uses: a name or glob without a slash matches at any depth, one with a leading ``/`` at the
repository root only; a match on a folder excludes its contents. Like azd, it packages what is in the folder
(tracked or not), so a stray file shows up here before it shows up in Azure. Standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / ".local" / "package" / "pipeline.zip"
# A fixed timestamp: the same tree gives the same zip.
EPOCH = (2020, 1, 1, 0, 0, 0)


def rules(funcignore: Path) -> list[str]:
    lines = (line.strip() for line in funcignore.read_text().splitlines())
    found = [line for line in lines if line and not line.startswith("#")]
    for rule in found:
        if rule.startswith("!") or "/" in rule.lstrip("/"):
            raise ValueError(
                f".funcignore rule {rule!r}: keep to names and globs, with an optional leading /"
            )
    return found


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether the rules keep this repository-relative path out of the package."""
    parts = PurePosixPath(path).parts
    for rule in patterns:
        if rule.startswith("/"):
            if fnmatch.fnmatchcase(parts[0], rule[1:]):
                return True
        elif any(fnmatch.fnmatchcase(part, rule) for part in parts):
            return True
    return False


def package_files(root: Path = ROOT) -> list[str]:
    """Repository-relative paths of the files the package holds, sorted."""
    patterns = rules(root / ".funcignore")
    found = []
    for folder, subfolders, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        subfolders[:] = sorted(name for name in subfolders if not excluded(prefix + name, patterns))
        found += [prefix + name for name in files if not excluded(prefix + name, patterns)]
    return sorted(found)


def build(output: Path, root: Path = ROOT) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in package_files(root):
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / name).read_bytes())
    return output


def summary(names: list[str]) -> list[str]:
    """The package at two levels: each file or folder at the top and inside shared/ (folders end in /)."""
    entries = set()
    for name in names:
        parts = name.split("/")
        depth = 2 if parts[0] == "shared" else 1
        entries.add("/".join(parts[:depth]) + ("/" if len(parts) > depth else ""))
    return sorted(entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the zip to write")
    parser.add_argument("--list", action="store_true", help="print what the package holds instead")
    args = parser.parse_args()
    if args.list:
        print("\n".join(summary(package_files())))
        return
    output = build(args.output.resolve())
    with zipfile.ZipFile(output) as archive:
        count = len(archive.namelist())
    print(f"{count} files, {output.stat().st_size / 1e6:.1f} MB")
    print(output)


if __name__ == "__main__":
    main()
