"""Headless Chromium for the dashboard's tests and the documentation's screenshot.

One place for the binary's paths and the flags: the suite drives the page with it
(``tests/test_dashboard.py``), and ``tests/dashboard_screenshot.py`` takes the
picture of the documentation's Marketing page with the very same browser.
"""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def headless_chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium with its own profile directory, 1280 × 1200 pixels.

    :param profile: an empty directory for the browser's profile.
    """
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1200",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"}
    )
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
