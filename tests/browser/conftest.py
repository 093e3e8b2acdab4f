"""The sidebar's local preview in Debian's headless Chromium, against `billsync serve` and the
DigitalOcean simulator. Skipped with the reason where no Chromium exists; failed in CI (CI=true),
which must run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.simulators.digitalocean import DigitalOceanSimulator, DOSimConfig
from api.simulators.doit import DoitSimConfig, DoitSimulator
from tests.browser import chromium

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PREVIEW_URL = re.compile(r"http://127\.0\.0\.1:\d+/addon/\?key=[A-Za-z0-9_\-]+")
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = chromium.missing()
    if reason is None or os.environ.get("CI"):
        return  # in CI a missing browser fails the tests (the `browser` fixture says why)
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.skip(reason=f"no browser here: {reason}"))


@dataclass
class Preview:
    """A running `billsync serve`: the URL it printed (with the key) and its home."""

    url: str
    base: str
    home: Path
    simulator: DigitalOceanSimulator
    doit: DoitSimulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[DigitalOceanSimulator]:
    # Slow enough (latency, 2 workers) that a person — and the test — sees the bar move; rate
    # limits raised because every test of the module syncs the same account.
    config = DOSimConfig(
        months=18, items_per_invoice=30, preview=False, latency=0.08,
        per_minute=100_000, per_hour=1_000_000,
    )  # fmt: skip
    with DigitalOceanSimulator(config) as sim:
        yield sim


@pytest.fixture(scope="module")
def doit() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(months=6)) as sim:
        yield sim


@contextmanager
def serving(
    folder: Path, simulator: DigitalOceanSimulator, doit: DoitSimulator
) -> Iterator[Preview]:
    """`billsync serve --port 0` on a new home, as a person runs it; stopped on exit."""
    home = folder / "home"
    env = {
        **os.environ,
        "BILLSYNC_HOME": str(home),
        "DIGITALOCEAN_API_URL": simulator.url,
        "DOIT_API_URL": doit.url,
        "BILLSYNC_CONCURRENCY": "2",
        "BILLSYNC_HTTP_MAX_ATTEMPTS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("BILLSYNC_LOCAL_KEY", "BILLSYNC_AUTH", "DATABASE_URL"):
        env.pop(name, None)
    log = (folder / "serve.log").open("w+", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", "0"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _printed_url(process, log, deadline=time.monotonic() + 60)
        base = url.split("/addon/", 1)[0]
        _wait_healthy(base, process, log)
        yield Preview(url=url, base=base, home=home, simulator=simulator, doit=doit)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory,
    simulator: DigitalOceanSimulator,
    doit: DoitSimulator,
) -> Iterator[Preview]:
    with serving(tmp_path_factory.mktemp("serve"), simulator, doit) as server:
        yield server


@pytest.fixture
def preview(shared_server: Preview) -> Preview:
    """The module's server with no connections left by an earlier test (deleted via the API)."""
    key = shared_server.url.split("key=", 1)[1]
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=shared_server.base, headers=auth) as api:
        listed = api.get("/v1/spreadsheets/local/connections")
        listed.raise_for_status()
        for connection in listed.json()["connections"]:
            api.delete(f"/v1/connections/{connection['id']}").raise_for_status()
    return shared_server


@pytest.fixture
def fresh_preview(
    tmp_path: Path, simulator: DigitalOceanSimulator, doit: DoitSimulator
) -> Iterator[Preview]:
    """A server of its own: an empty workbook whose rows a test can count."""
    with serving(tmp_path, simulator, doit) as server:
        yield server


def _printed_url(process: subprocess.Popen[str], log, deadline: float) -> str:  # type: ignore[no-untyped-def]
    while time.monotonic() < deadline:
        log.seek(0)
        found = PREVIEW_URL.search(log.read())
        if found:
            return found.group(0)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    pytest.fail(
        "`billsync serve` printed no http://127.0.0.1:PORT/addon/?key=… line:\n" + log.read()
    )


def _wait_healthy(base: str, process: subprocess.Popen[str], log) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    pytest.fail("`billsync serve` did not answer /healthz:\n" + log.read())


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    reason = chromium.missing()
    if reason:
        pytest.fail(f"CI must run the browser tests: {reason}")
    driver = chromium.start()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chrome: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's Chromium at the sidebar's size; a screenshot when the test failed."""
    chrome.set_window_size(*chromium.SIDEBAR_SIZE)
    yield chrome
    if getattr(request.node, "failed_call", False):
        shoot(chrome, f"{request.node.name}-failure")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call" and report.failed:
        item.failed_call = True  # type: ignore[attr-defined]
    return report


def shoot(driver, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A screenshot of the whole sidebar (its full height) under tests/browser/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(int(height) + 140, 600))
    driver.save_screenshot(str(path))
    return path
