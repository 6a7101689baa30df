"""What keeps the documentation true: every link, anchor and name a page uses is checked against the project.

A page is checked for: relative links and anchors that resolve to tracked files and real headings; no pointer
outside the repository; ``make`` targets that the Makefile has; setting-like names (``UPPER_CASE``) and
CamelCase names (error codes, classes) that the code uses; ``/api/...`` routes that function_app.py or the
console's route table serve; ``--options`` of the project's own commands that their parsers declare; and
example JSON documents that validate against their published schema. Each check takes the page's text, so a
test can feed it a broken page.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema

from devstack.paths import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "docs" / "schemas"
# Where names are looked up: the project's own code and configuration, never its prose.
CODE_SUFFIXES = {".py", ".js", ".bicep", ".json", ".yaml", ".yml", ".sh", ".ps1", ".example", ".html"}
CODE_NAMES = {"Makefile", ".funcignore", "host.json", "run"}
# The project's commands (``python -m <package>``) and where their options are declared.
COMMANDS = ("localvision", "devstack", "devhost", "bench", "shared.schemas", "shared.settings.definitions")

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
MAKE_TARGET = re.compile(r"\bmake ([a-z][a-z0-9-]*)")
SETTING_LIKE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?:__[A-Za-z]+)?)\b")
CAMEL_CODE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")
API_ROUTE = re.compile(r"/api/([A-Za-z0-9_{}./*-]*)")
COMMAND_LINE = re.compile(r"python3? -m (" + "|".join(re.escape(c) for c in COMMANDS) + r")\b(.*)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
# A relative path that climbs out of its folder, and a Markdown file named without a link.
PARENT_PATH = re.compile(r"(?<![\w/.-])((?:\.\./)+[\w.-]*[\w-](?:/[\w.-]*[\w-])*)")
PAGE_NAME = re.compile(r"(?<![\w/.-])([A-Za-z][\w-]*\.md)\b")
TOP_LEVEL_DIRS = ("shared/", "tests/", "docs/", "infra/", "scripts/", "localvision/", "devhost/", "devstack/")
TOP_LEVEL_DIRS += ("bench/", "samples/")
# Names the pages mention that belong to Azure or another project, not to this code: name -> whose.
EXTERNAL_NAMES = {
    "FUNCTIONS_WORKER_PROCESS_COUNT": "an Azure Functions app setting the project leaves unset",
    "BadRequestExportPlatformNotSupportedForAdvancedTraining": "a Custom Vision error code localvision omits",
    "InvalidBlobType": "an Azure Storage error code",
    "SupportsItems": "a typeshed protocol inside requests",
    "SupportsRead": "a typeshed protocol inside requests",
}


@dataclass(frozen=True)
class Finding:
    page: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.problem}"


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    in_code_block: bool
    block_language: str


def lines_of(text: str) -> Iterator[Line]:
    fence, language = None, ""
    for number, raw in enumerate(text.splitlines(), start=1):
        marker = FENCE.match(raw.strip())
        if marker:
            if fence is None:
                fence, language = marker.group(1), raw.strip()[3:].strip()
            elif marker.group(1) == fence:
                fence, language = None, ""
            continue
        yield Line(number, raw, fence is not None, language)


def code_of(line: Line) -> list[str]:
    """The parts of a line that are code: all of it in a block, else its code spans."""
    return [line.text] if line.in_code_block else CODE_SPAN.findall(line.text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in lines_of(text):
        if line.in_code_block:
            continue
        found.update(EXPLICIT_ANCHOR.findall(line.text))
        heading = HEADING.match(line.text)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


@cache
def tracked_files() -> frozenset[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return frozenset(name for name in listed if (PROJECT_ROOT / name).exists())


def is_tracked(relative: str) -> bool:
    relative = relative.rstrip("/")
    files = tracked_files()
    return relative in files or any(name.startswith(relative + "/") for name in files)


def check_links(page: Path, text: str) -> list[Finding]:
    name = page.relative_to(PROJECT_ROOT).as_posix()
    own_anchors = anchors_of(text)
    findings = []
    for line in lines_of(text):
        if line.in_code_block:
            continue
        for target in LINK.findall(CODE_SPAN.sub("", line.text)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            try:
                relative = resolved.relative_to(PROJECT_ROOT).as_posix()
            except ValueError:
                findings.append(Finding(name, line.number, f"link points outside the repository: {target}"))
                continue
            if path_part and not is_tracked(relative):
                findings.append(Finding(name, line.number, f"link to a file the repository lacks: {target}"))
                continue
            if not anchor or resolved.suffix != ".md":
                continue
            if anchor not in (anchors_of(resolved.read_text()) if path_part else own_anchors):
                findings.append(
                    Finding(name, line.number, f"no heading for the anchor #{anchor} in {relative}")
                )
    return findings


def check_outside_pointers(page: Path, text: str) -> list[Finding]:
    """A ``../`` path that leads out of the repository, or a page named that the repository lacks."""
    name = page.relative_to(PROJECT_ROOT).as_posix()
    pages = {file.rsplit("/", 1)[-1] for file in tracked_files()}
    findings = []
    for line in lines_of(text):
        prose = re.sub(r"\]\([^)]*\)", "]", line.text)  # link targets are check_links' to judge
        for path in PARENT_PATH.findall(prose):
            resolved = (page.parent / path).resolve()
            if not resolved.is_relative_to(PROJECT_ROOT):
                findings.append(Finding(name, line.number, f"points outside the repository: {path}"))
            elif not is_tracked(resolved.relative_to(PROJECT_ROOT).as_posix()):
                findings.append(Finding(name, line.number, f"names a path the repository lacks: {path}"))
        findings += [
            Finding(name, line.number, f"names a page the repository lacks: {page_name}")
            for page_name in PAGE_NAME.findall(prose)
            if page_name not in pages
        ]
    return findings


def check_paths(name: str, text: str) -> list[Finding]:
    """Project paths named in code spans (``shared/mirror/plan.py``) exist and are tracked."""
    findings = []
    for line in lines_of(text):
        if line.in_code_block:
            continue
        for span in CODE_SPAN.findall(line.text):
            candidate = span.split()[0].split(":")[0].split("#")[0] if span.split() else ""
            if not candidate.startswith(TOP_LEVEL_DIRS) or re.search(r"[{}*<>$]|\.\.\.", candidate):
                continue
            module = re.sub(r"\.[a-z_]+$", "", candidate) + ".py"  # shared/imaging.normalise
            if not (is_tracked(candidate) or is_tracked(candidate + ".py") or is_tracked(module)):
                findings.append(Finding(name, line.number, f"names a path the repository lacks: {candidate}"))
    return findings


@cache
def make_targets() -> frozenset[str]:
    text = (PROJECT_ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([a-z][a-z0-9-]*)\s*:", text, flags=re.M))


def check_make_targets(name: str, text: str) -> list[Finding]:
    return [
        Finding(name, line.number, f"`make {target}` is not a Makefile target")
        for line in lines_of(text)
        for code in code_of(line)
        for target in MAKE_TARGET.findall(code)
        if target not in make_targets()
    ]


@cache
def code_text() -> str:
    """Every tracked code and configuration file of the project, concatenated (docs and prose left out)."""
    parts = []
    for relative in sorted(tracked_files()):
        path = PROJECT_ROOT / relative
        if relative.startswith(("docs/", "tests/docs/", "tests/data/", "samples/")) or path.suffix == ".md":
            continue
        if path.suffix in CODE_SUFFIXES or path.name in CODE_NAMES:
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


@cache
def known_word(word: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])", code_text()) is not None


def check_names(name: str, text: str) -> list[Finding]:
    """Setting-like and CamelCase names in code spans are names the code uses."""
    findings = []
    for line in lines_of(text):
        for code in code_of(line) if not line.in_code_block else []:
            words = set(SETTING_LIKE.findall(code))
            token = code.strip().rstrip("()")
            if CAMEL_CODE.match(token):
                words.add(token)
            findings += [
                Finding(name, line.number, f"`{word}` is not a name the code uses (setting, code or class)")
                for word in sorted(words)
                if word not in EXTERNAL_NAMES and not known_word(word)
            ]
    return findings


@cache
def api_routes() -> tuple[re.Pattern[str], ...]:
    app = (PROJECT_ROOT / "function_app.py").read_text()
    routes = [r for r in re.findall(r'route="([^"]+)"', app) if not r.endswith("{*path}")]
    console = (PROJECT_ROOT / "shared" / "console" / "api.py").read_text()
    routes += ["console-api/" + r for r in re.findall(r'\("(?:GET|POST)", "([^"]+)"\)', console)]
    routes += ["console/", "console/{path}", "console-api/", "console-api/{path}"]
    patterns = []
    for route in routes:
        parts = re.split(r"(\{[^}]+\})", route)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        patterns.append(re.compile(body + r"/?"))
    return tuple(patterns)


def check_routes(name: str, text: str) -> list[Finding]:
    findings = []
    for line in lines_of(text):
        for code in code_of(line):
            for route in API_ROUTE.findall(code):
                route = route.split("?")[0].rstrip(".")
                if route in ("", "...") or route.endswith("..."):
                    continue
                if not any(p.fullmatch(route) for p in api_routes()):
                    findings.append(Finding(name, line.number, f"/api/{route} is not a route of the app"))
    return findings


@cache
def options_of(command: str) -> frozenset[str]:
    root = PROJECT_ROOT / command.replace(".", "/")
    files = [root.with_suffix(".py")] if root.with_suffix(".py").is_file() else list(root.rglob("*.py"))
    declared: set[str] = {"--help"}
    for path in files:
        declared.update(re.findall(r"[\"'](--[a-z][a-z0-9-]*)[\"']", path.read_text()))
    return frozenset(declared)


def check_options(name: str, text: str) -> list[Finding]:
    findings = []
    pending: str | None = None  # a command continued on the next line with a backslash
    for line in lines_of(text):
        for code in code_of(line):
            command = COMMAND_LINE.search(code)
            rest = command.group(2) if command else (code if pending else "")
            current = command.group(1) if command else pending
            if current is None:
                continue
            for option in OPTION.findall(rest):
                if option not in options_of(current):
                    findings.append(Finding(name, line.number, f"`{current}` has no option {option}"))
            pending = current if line.in_code_block and code.rstrip().endswith("\\") else None
    return findings


@cache
def schema(file: str) -> dict:
    return json.loads((SCHEMAS / file).read_text())


def schema_for(document: dict) -> str | None:
    if "runId" in document and "trigger" in document:
        return "run-record.schema.json"
    if "schemaVersion" in document and "blob" in document:
        return (
            "error-document.schema.json"
            if document.get("status") == "error"
            else "result-document.schema.json"
        )
    return None


def check_examples(name: str, text: str) -> list[Finding]:
    """Every ```json block is JSON, and one that is a published document validates against its schema."""
    findings, block, start = [], [], 0
    for line in [*lines_of(text), Line(-1, "", False, "")]:
        if line.in_code_block and line.block_language == "json":
            block, start = [*block, line.text], start or line.number
            continue
        if block:
            try:
                document = json.loads("\n".join(block))
            except json.JSONDecodeError as error:
                findings.append(
                    Finding(name, start, f"example is not JSON: {error.msg} (line {error.lineno})")
                )
            else:
                file = schema_for(document) if isinstance(document, dict) else None
                if file:
                    problem = jsonschema.exceptions.best_match(
                        jsonschema.Draft202012Validator(schema(file)).iter_errors(document)
                    )
                    if problem is not None:
                        where = "/".join(str(p) for p in problem.absolute_path) or "(top)"
                        findings.append(
                            Finding(name, start, f"example breaks {file} at {where}: {problem.message}")
                        )
            block, start = [], 0
    return findings


def check_page(page: Path, text: str | None = None) -> list[Finding]:
    text = page.read_text() if text is None else text
    name = page.relative_to(PROJECT_ROOT).as_posix()
    return [
        *check_links(page, text),
        *check_outside_pointers(page, text),
        *check_paths(name, text),
        *check_make_targets(name, text),
        *check_names(name, text),
        *check_routes(name, text),
        *check_options(name, text),
        *check_examples(name, text),
    ]


def pages() -> list[Path]:
    return sorted(
        PROJECT_ROOT / name
        for name in tracked_files()
        if name.endswith(".md") and (("/" not in name) or name.startswith("docs/"))
    )
