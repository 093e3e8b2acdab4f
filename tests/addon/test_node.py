"""Runs the add-on's JavaScript unit tests (`node --test tests/addon/`) inside pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_addon_javascript_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed; CI must run the add-on's JavaScript tests")
        pytest.skip("node is not installed: the add-on's JavaScript tests need Node.js >= 18")
    files = sorted(str(path) for path in HERE.glob("*.test.js"))
    assert files, "no *.test.js files next to this module"
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = [line for line in done.stdout.splitlines() if line.startswith(("# pass", "# fail"))]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert summary and summary[-1] == "# fail 0", summary
