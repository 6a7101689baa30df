"""One table of addresses (tests/data/ssrf_cases.json) against both SSRF guards: the pipeline's fetcher
(shared/fetch.py) and localvision's (localvision/urlfetch.py) must agree on every case."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from localvision import urlfetch
from shared import fetch

CASES = json.loads((Path(__file__).parent / "data" / "ssrf_cases.json").read_text(encoding="utf-8"))["cases"]
GUARDS: dict[str, Callable[[str], bool]] = {"pipeline": fetch.is_public, "localvision": urlfetch.is_public}


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("case", CASES, ids=[case["address"] for case in CASES])
def test_guard_judges_the_address(guard: str, case: dict[str, object]) -> None:
    assert GUARDS[guard](str(case["address"])) is case["public"], case["why"]


def test_the_table_covers_every_embedding_form_both_ways() -> None:
    prefixes = {"::ffff:": "mapped", "::": "compatible", "64:ff9b::": "nat64", "64:ff9b:1:": "nat64-local",
                "2002:": "6to4", "2001:0:": "teredo"}  # fmt: skip
    seen = {(form, case["public"]) for case in CASES for prefix, form in prefixes.items()
            if str(case["address"]).startswith(prefix)}  # fmt: skip
    assert {(form, verdict) for form in prefixes.values() for verdict in (True, False)} <= seen
