"""Real headless Chromium for end-to-end tests: the driver fixture and its skip mark.

Debian's ``chromium`` and ``chromium-driver`` packages, driven by selenium. A test
module takes the fixture by name and marks its tests::

    import chromium as headless

    chromium = headless.chromium  # the fixture, under the name tests ask for

    @headless.needs_chromium
    def test_page(chromium): ...

The browser keeps its performance log (every network event), read with
:func:`requests` and :func:`responses`, so a test can check where a page
went and the status of a page it navigated to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Headless, no sandbox (containers), and none of the browser's own traffic.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1200",
)

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"needs Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}):"
    " apt-get install chromium chromium-driver",
)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; quit after the test."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"}
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def messages(driver: Any) -> Iterator[dict[str, Any]]:
    """The DevTools messages logged since the last read (the log is drained)."""
    for entry in driver.get_log("performance"):
        yield json.loads(entry["message"])["message"]


def requests(driver: Any) -> list[tuple[str, str]]:
    """The ``(url, document url)`` of every request sent since the last read."""
    return [
        (message["params"]["request"]["url"], message["params"]["documentURL"])
        for message in messages(driver)
        if message["method"] == "Network.requestWillBeSent"
    ]


def responses(driver: Any) -> list[tuple[str, int]]:
    """The ``(url, status)`` of every response received since the last read."""
    return [
        (message["params"]["response"]["url"], message["params"]["response"]["status"])
        for message in messages(driver)
        if message["method"] == "Network.responseReceived"
    ]
