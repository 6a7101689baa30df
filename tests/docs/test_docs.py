"""The documentation stays true: every page passes tests/docs/check.py, which catches each kind of lie."""

from __future__ import annotations

import json

import pytest

from devstack.paths import PROJECT_ROOT
from tests.docs import check

README = PROJECT_ROOT / "README.md"
PIPELINE = PROJECT_ROOT / "docs" / "pipeline.md"


@pytest.mark.parametrize("page", check.pages(), ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix())
def test_page_is_true(page):
    assert [str(f) for f in check.check_page(page)] == []


def test_every_page_is_checked():
    names = {p.relative_to(PROJECT_ROOT).as_posix() for p in check.pages()}
    assert {"README.md", "docs/pipeline.md", "docs/deploy.md", "CONTRIBUTING.md", "SECURITY.md"} <= names


def problems(text: str, page=PIPELINE) -> list[str]:
    return [f.problem for f in check.check_page(page, text)]


def test_a_broken_link_is_caught():
    assert problems("See [the deploy page](deploy.md) and [gone](nowhere.md).\n") == [
        "link to a file the repository lacks: nowhere.md"
    ]


def test_a_broken_anchor_is_caught():
    real = sorted(check.anchors_of((PROJECT_ROOT / "docs" / "contracts.md").read_text()))[0]
    text = f"[ok](contracts.md#{real}) [bad](contracts.md#no-such-heading) [here](#the-page) [no](#gone)\n"
    assert problems(text + "# The page\n") == [
        "no heading for the anchor #no-such-heading in docs/contracts.md",
        "no heading for the anchor #gone in docs/pipeline.md",
    ]


def test_a_link_outside_the_repository_is_caught():
    text = "[notes](../../elsewhere/notes.md), `../../notes/x.md` and PLANNING.md; ok: ../README.md\n"
    assert problems(text) == [
        "link points outside the repository: ../../elsewhere/notes.md",
        "points outside the repository: ../../notes/x.md",
        "names a page the repository lacks: PLANNING.md",
    ]


def test_a_path_the_repository_lacks_is_caught():
    text = "Code: `shared/mirror/plan.py`, `shared/imaging.normalise`, `shared/mirror/gone.py`.\n"
    assert problems(text) == ["names a path the repository lacks: shared/mirror/gone.py"]
    text = "See ../shared/storage.py, not ../shared/notes/customvision-export.md.\n"  # from docs/
    assert problems(text) == ["names a path the repository lacks: ../shared/notes/customvision-export.md"]


def test_an_unknown_make_target_is_caught():
    assert problems("Run `make demo`, then `make deploy-everything`.\n") == [
        "`make deploy-everything` is not a Makefile target"
    ]


def test_an_unknown_setting_or_error_code_is_caught():
    text = "Set `REVIEW_THRESHOLD` and `REVIEW_TRESHOLD`; codes `NotAnImage`, `NotAnImageAtAll`.\n"
    assert problems(text) == [
        "`REVIEW_TRESHOLD` is not a name the code uses (setting, code or class)",
        "`NotAnImageAtAll` is not a name the code uses (setting, code or class)",
    ]


def test_an_unknown_route_is_caught():
    text = (
        "`POST /api/retrain`, `GET /api/retrain/{runId}`, `/api/console-api/review/assign`, `/api/retrian`\n"
    )
    assert problems(text) == ["/api/retrian is not a route of the app"]


def test_an_unknown_cli_option_is_caught():
    text = "```bash\npython -m localvision --data d --port 5100 \\\n    --tier F0 --turbo\n```\n"
    assert problems(text) == ["`localvision` has no option --turbo"]


def test_an_example_document_that_breaks_its_schema_is_caught():
    document = json.loads((PROJECT_ROOT / "tests" / "data" / "docs" / "result-document.json").read_text())
    good = "```json\n" + json.dumps(document) + "\n```\n"
    assert problems(good) == []
    del document["model"]["source"]
    assert problems("```json\n" + json.dumps(document) + "\n```\n") == [
        "example breaks result-document.schema.json at model: 'source' is a required property"
    ]
    assert problems('```json\n{"status": "ok",}\n```\n')[0].startswith("example is not JSON")
