"""Debian's headless Chromium under Selenium, without Selenium Manager or any download."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SIDEBAR_SIZE = (300, 900)  # a Sheets sidebar is 300 px wide
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} not found: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    return None


def start(width: int = SIDEBAR_SIZE[0], height: int = SIDEBAR_SIZE[1]):  # type: ignore[no-untyped-def]
    """A WebDriver for headless Chromium with the sidebar's viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    service = Service(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    env_dir = os.environ.get("BILLSYNC_BROWSER_PROFILE")
    if env_dir:
        options.add_argument(f"--user-data-dir={env_dir}")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(width, height)
    return driver
