"""Squatting the day's bounds, on a real Redis and on a Redis Cluster: junk
landed just after midnight UTC takes only the landings' half of
``max_promotions_per_day`` and ``max_sources``; a genuine campaign keeps its
name in ``qs.promotion`` and, once a cart or a return shows evidence, its own
keys; the key space stays bounded and the report sums right."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from datetime import timezone
from typing import Any

import pytest
import redis
from campaign_script import DAY
from campaign_script import shop
from werkzeug.test import Client

from qscookies import PromotionReport
from qscookies import QSCookies

from launchers import RedisClusterServers

#: Just after midnight UTC of the campaign day: when squatters strike.
MIDNIGHT = datetime(2027, 3, 1, 0, 1, tzinfo=timezone.utc).timestamp()
INDEX = "a:i:20270301"
PAIRS = "a:j:{%sa:i:20270301}"


class Store:
    """A Redis client and a key prefix of its own."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def app(self, **options: Any) -> QSCookies:
        """The campaign shop (``/cart`` adds a line), its clock at midnight."""
        app = QSCookies(
            shop,
            secret_key="k" * 32,
            redis=self.client,
            key_prefix=self.prefix,
            **options,
        )
        app.clock = lambda: MIDNIGHT  # type: ignore[method-assign]
        return app

    def codes(self) -> dict[str, float]:
        """The day's index: code -> landings."""
        found = self.client.zrange(self.prefix + INDEX, 0, -1, withscores=True)
        return {code.decode(): score for code, score in found}

    def pairs(self, code: str) -> set[str]:
        """The pairs admitted for *code* in the day's pair index."""
        names = self.client.hgetall(self.prefix + PAIRS % self.prefix)
        return {
            name.decode().partition("@")[2]
            for name in names
            if name.decode().startswith(f"{code}@")
        }

    def report(self, **options: Any) -> list[Any]:
        with PromotionReport(redis=self.client, key_prefix=self.prefix) as report:
            return report.counts(DAY, DAY, **options)


@pytest.fixture(params=["redis", "cluster"])
def store(request: pytest.FixtureRequest, redis_client: redis.Redis) -> Iterator[Store]:
    if request.param == "redis":
        yield Store(redis_client, "qs:")
        return
    cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
    with cluster.client() as client:
        yield Store(client, f"b{uuid.uuid4().hex[:12]}:")  # the cluster is shared


def land(app: QSCookies, query: str) -> Client:
    browser = Client(app)
    assert browser.get(f"/?{query}").status_code == 303
    return browser


def test_junk_codes_never_evict_a_real_campaign(store: Store) -> None:
    """200 junk codes at midnight, no allow-list: SPRING's visitors still read
    SPRING; the first one's cart admits it, and its next landings count under
    its own name."""
    app = store.app()
    for number in range(200):
        land(app, f"promo=JUNK{number:03d}")
    first = land(app, "promo=SPRING")
    assert first.get("/").text == "SPRING"  # not "other": the discount applies
    assert "SPRING" not in store.codes()  # its landing counted under other
    first.get("/cart")  # evidence: a cart, credited where it was counted
    second = land(app, "promo=SPRING")
    assert second.get("/").text == "SPRING"
    second.get("/cart")
    codes = store.codes()
    assert codes["SPRING"] == 1 and codes["other"] == 101
    assert len(codes) == 100 + 1 + 1  # the junk landed, SPRING, other: <= 200 + 1

    rows = {row.promotion: row for row in store.report()}
    assert (rows["SPRING"].landings, rows["SPRING"].carts) == (1, 1)
    assert (rows["other"].landings, rows["other"].carts) == (101, 1)
    assert sum(row.landings for row in rows.values()) == 202  # none lost
    assert sum(row.carts for row in rows.values()) == 2


def test_junk_with_evidence_still_stays_bounded(store: Store) -> None:
    """Bots that keep cookies and start carts fill the evidence half too, and
    no more: the day's index never holds more than the bound and ``other``."""
    app = store.app(max_promotions_per_day=4)
    for number in range(10):
        land(app, f"promo=JUNK{number:03d}").get("/cart")
    late = land(app, "promo=SPRING")
    assert late.get("/").text == "SPRING"
    late.get("/cart")  # no room left: credited under other, SPRING not admitted
    codes = store.codes()
    assert set(codes) == {"JUNK000", "JUNK001", "JUNK002", "JUNK003", "other"}
    assert codes["other"] == 9
    rows = store.report()
    assert sum(row.landings for row in rows) == 11
    assert sum(row.carts for row in rows) == 11


def test_junk_pairs_never_evict_a_real_source(store: Store) -> None:
    """50 junk source/medium pairs of an allow-listed code at midnight: the
    newsletter's first landing counts under other/other, its cart admits the
    pair, and the newsletter's next landings count as themselves."""
    app = store.app(allowed_promotions=["SPRING"])
    for number in range(50):
        land(app, f"promo=SPRING&utm_source=junk{number:02d}&utm_medium=cpc")
    newsletter = "promo=SPRING&utm_source=newsletter&utm_medium=email"
    first = land(app, newsletter)
    assert first.get("/").text == "SPRING"
    first.get("/cart")
    second = land(app, newsletter)
    second.get("/cart")
    pairs = store.pairs("SPRING")
    assert "newsletter/email" in pairs
    assert len(pairs) <= 50 + 1  # bounded: max_sources and other/other

    rows = {(r.source, r.medium): r for r in store.report(by="source_medium")}
    newsletter_row = rows[("newsletter", "email")]
    assert (newsletter_row.landings, newsletter_row.carts) == (1, 1)
    assert (rows[("other", "other")].landings, rows[("other", "other")].carts) == (
        26,
        1,
    )
    assert sum(row.landings for row in rows.values()) == 52  # none lost
    (spring,) = store.report()
    assert (spring.promotion, spring.landings, spring.carts) == ("SPRING", 52, 2)


def test_a_return_is_evidence_too(store: Store) -> None:
    """A visitor whose landing counted under other comes back for a new visit:
    that admits the code, without any cart."""
    app = store.app(max_promotions_per_day=2)
    land(app, "promo=JUNK0")
    browser = land(app, "promo=SPRING")  # past the landings' half: other
    assert "SPRING" not in store.codes()
    app.clock = lambda: MIDNIGHT + 3600  # type: ignore[method-assign]
    assert browser.get("/").text == "SPRING"  # a new visit, the cookie returned
    assert "SPRING" in store.codes()
    land(app, "promo=SPRING")
    assert store.codes()["SPRING"] == 1


def test_allow_listed_codes_are_never_capped(store: Store) -> None:
    """With an allow-list, ``max_promotions_per_day`` takes no code of it:
    every listed code gets keys of its own and reads as itself."""
    app = store.app(allowed_promotions=["A1", "B2", "C3"], max_promotions_per_day=1)
    for code in ("A1", "B2", "C3"):
        assert land(app, f"promo={code}").get("/").text == code
    assert store.codes() == {"A1": 1, "B2": 1, "C3": 1}
