"""Real headless Chromium for end-to-end tests: the driver fixture and its skip mark.

Debian's ``chromium`` and ``chromium-driver`` packages, driven by selenium. A test
module takes the fixture by name and marks its tests::

    import chromium as headless

    chromium = headless.chromium  # the fixture, under the name tests ask for

    @headless.needs_chromium
    def test_page(chromium): ...

The browser keeps its performance log (every network event), read with
:func:`requests` and :func:`exchanges`, so a test can check where a page went,
what the browser sent (its cookies, its ``Sec-Fetch-Site``) and the status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
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


def headless_chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium with its own profile directory, 1280 × 1200 pixels,
    keeping its performance log (the suite's fixture, and the documentation's
    screenshot: ``tests/support/dashboard_screenshot.py``).

    :param profile: an empty directory for the browser's profile.
    """
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"}
    )
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; quit after the test."""
    driver = headless_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


#: The cells of the shown rows matching a selector, read in one step in the page.
_CELLS = """
return Array.from(document.querySelectorAll(arguments[0]))
  .filter((row) => row.checkVisibility())
  .map((row) => Array.from(row.querySelectorAll("td"), (td) => td.innerText.trim()))
  .filter((cells) => cells.length > 0);
"""


def cells(driver: Any, rows: str) -> list[list[str]]:
    """The ``td`` texts of every shown row matching the CSS selector *rows*.

    Read by one script in the page, so a table the page redraws meanwhile (a
    new choice's answer arriving) gives the rows of one drawing or the other,
    never a stale element: reading row by row through WebDriver raced with it.
    """
    found: list[list[str]] = driver.execute_script(_CELLS, rows)
    return found


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


@dataclass(frozen=True)
class Exchange:
    """One request as the browser sent it on the wire, and its answer's status."""

    #: The request headers, names in lower case (``cookie`` included, if sent).
    headers: dict[str, str]
    status: int


def exchanges(driver: Any, url: str) -> list[Exchange]:
    """Every request to *url* since the log was last read, in order."""
    sent: dict[str, dict[str, str]] = {}
    status: dict[str, int] = {}
    order: list[str] = []
    for message in messages(driver):
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            if params["request"]["url"] == url:
                order.append(params["requestId"])
        elif message["method"] == "Network.requestWillBeSentExtraInfo":
            headers = params["headers"]
            sent[params["requestId"]] = {k.lower(): v for k, v in headers.items()}
        elif message["method"] == "Network.responseReceived":
            status[params["requestId"]] = params["response"]["status"]
    return [Exchange(sent[rid], status[rid]) for rid in order]
