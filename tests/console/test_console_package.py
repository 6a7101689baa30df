"""The deployment package (.funcignore) keeps the console's files."""

from __future__ import annotations

from devstack.paths import PROJECT_ROOT
from shared.console.static_files import STATIC_DIR
from tests.infra.package import excluded


def test_the_console_is_in_the_deployment_package():
    """The package is computed from the tracked files and .funcignore, as the deploy tests do."""
    files = sorted(p.relative_to(PROJECT_ROOT).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file())
    assert {"index.html", "app.js", "console.css"} <= {f.rsplit("/", 1)[1] for f in files}
    assert [f for f in files if excluded(f)] == []
    assert not excluded("shared/console/api.py")
    assert excluded("tests/console/conftest.py")  # the check itself can tell


def test_only_the_static_page_is_anonymous(load_app):
    from tests.pipeline.test_units import VALID

    app = load_app(VALID)
    triggers = {f.get_function_name(): f.get_trigger().get_dict_repr() for f in app.app.get_functions()}
    page, data = triggers["console"], triggers["console_api"]
    methods = [str(getattr(m, "value", m)) for m in page["methods"]]
    assert (page["route"], methods, str(page["authLevel"].value)) == ("console/{*path}", ["GET"], "anonymous")
    assert data["route"] == "console-api/{*path}" and str(data["authLevel"].value) == "function"
    anonymous = [
        name for name, t in triggers.items() if str(t.get("authLevel", "")).lower().endswith("anonymous")
    ]
    assert anonymous == ["console"]
