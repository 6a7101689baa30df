"""axe-core (npm, pinned in package-lock.json) run inside the page: the browser tests call ``audit`` on
every screen and state they visit and fail on any critical or serious violation.

The script is read from node_modules (never a CDN) and evaluated through the DevTools protocol, which the
page's CSP does not govern, so the console's CSP stays as strict as in production.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `npm ci` in the repository root")
    return AXE.read_text()


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (WCAG 2.x A and AA rules and best practices)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))"""
    )


def audit(page: Any, state: str) -> list[dict[str, Any]]:
    """Fails on critical or serious violations; returns the lesser ones (moderate, minor)."""
    found = violations(page)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {state}: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {v['targets']}" for v in blocking
    )
    return [v for v in found if v["impact"] not in BLOCKING]
