"""axe-core (npm, `npm ci`) injected into the page: WCAG 2.1 A/AA rules and best practices."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}


def serious_violations(driver: Any, name: str) -> list[str]:
    """One line per serious or critical violation on the page now; the full report is saved
    as tests/browser/artifacts/axe-<name>.json."""
    if not AXE.exists():
        reason = f"{AXE.relative_to(ROOT)} is missing: run `npm ci` for the accessibility check"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        "  .then(r => done({violations: r.violations, passes: r.passes.length}),"
        "        e => done({error: String(e)}));",
        TAGS,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    assert "error" not in result, result
    assert result["passes"] > 0, "axe checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] if node["target"] else "?" for node in v["nodes"][:3])
        for v in result["violations"]
        if v.get("impact") in BLOCKING
    ]
