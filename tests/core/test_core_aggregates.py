"""The aggregate writes of one UTC day: every key named by the layout, with a TTL."""

from __future__ import annotations

from qscookies.command import Command
from qscookies.core.aggregates import Day
from qscookies.core.aggregates import utc_day
from qscookies.keys import KeySchema

T = 1_750_000_000  # 2025-06-15 15:06:40 UTC


def test_utc_day_boundaries() -> None:
    assert utc_day(T) == "20250615"
    assert utc_day(1_750_031_999) == "20250615"
    assert utc_day(1_750_032_000) == "20250616"


def test_each_write_renews_the_ttl_of_its_key() -> None:
    day = Day(KeySchema("shop:"), T, 99)
    assert day.count("SUMMER", "carts") == [
        Command("HINCRBY", ("shop:a:{SUMMER}:d:20250615",), ("carts", 1)),
        Command("EXPIRE", ("shop:a:{SUMMER}:d:20250615",), (99,)),
    ]
    assert day.sketch("_site", "u", "h") == [
        Command("PFADD", ("shop:a:{_site}:u:20250615",), ("h",)),
        Command("EXPIRE", ("shop:a:{_site}:u:20250615",), (99,)),
    ]
    assert day.indexed("SUMMER") == [
        Command(
            "ZINCRBY", ("shop:a:k:20250615",), (0, "SUMMER")
        ),  # credited, not admitted
        Command("EXPIRE", ("shop:a:k:20250615",), (99,)),
    ]
