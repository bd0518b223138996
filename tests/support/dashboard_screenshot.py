"""Take the screenshot of the dashboard on the documentation's Marketing page.

Run it from the repository root after a change to the dashboard's look::

    python tests/support/dashboard_screenshot.py    # writes docs/img/dashboard.png

It seeds a private Redis with the suite's scripted promotions (three UTC days of
landings, carts and purchases, no wall clock), serves the dashboard on loopback and
photographs it in the suite's headless Chromium (``tests/support/chromium.py``).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from datetime import timedelta
from pathlib import Path

import promotion_script
from browser import served
from chromium import headless_chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from qscookies.dashboard import Dashboard
from qscookies.embedded import RedisServer

FIRST = date(2026, 11, 2)
PICTURE = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
TOKEN = "screenshot-token-0123456789"


def take(picture: Path = PICTURE) -> None:
    """Seed, serve and photograph the dashboard into *picture* (a PNG)."""
    last = FIRST + timedelta(days=2)
    with RedisServer() as server, server.client() as client:
        promotion_script.run(client, FIRST)
        with (
            served(Dashboard(redis=client, token=TOKEN), quiet=True) as base,
            tempfile.TemporaryDirectory() as profile,
        ):
            browser = headless_chromium(Path(profile))
            try:
                browser.get(f"{base}/?token={TOKEN}&since={FIRST}&until={last}")
                WebDriverWait(browser, 15).until(
                    lambda d: (
                        d.find_element(By.TAG_NAME, "html").get_attribute("data-state")
                        == "ready"
                    )
                )
                picture.parent.mkdir(parents=True, exist_ok=True)
                if not browser.save_screenshot(str(picture)):
                    raise SystemExit(f"Chromium took no screenshot into {picture}")
            finally:
                browser.quit()


if __name__ == "__main__":
    take(Path(sys.argv[1]) if len(sys.argv) > 1 else PICTURE)
    print(f"wrote {PICTURE if len(sys.argv) == 1 else sys.argv[1]}")
