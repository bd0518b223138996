"""The cookie codec (qscookies.codec): signing, verification, Set-Cookie values."""

from __future__ import annotations

import pytest
from itsdangerous import Signer
from werkzeug.http import dump_cookie

from qscookies import ConfigurationError
from qscookies import signing
from qscookies.codec import Attribution
from qscookies.codec import Choice
from qscookies.codec import CookieCodec
from qscookies.codec import VisitorState
from qscookies.codec import new_id
from qscookies.memo import Memo
from qscookies.setcookie import cookie_name
from qscookies.setcookie import delete_cookie_header
from qscookies.setcookie import set_cookie_header
from qscookies.signing import MacSigner

OLD = "old-secret-key-0123456789"
NEW = "new-secret-key-0123456789"
NOW = 1_800_000_000
DAY = 86400


@pytest.fixture
def codec() -> CookieCodec:
    return CookieCodec(NEW)


def test_new_ids_are_random_128_bit() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 22 for i in ids)  # 22 base64 chars = 132 >= 128 bits


def test_cart_round_trip(codec: CookieCodec) -> None:
    cart_id = new_id()
    value = codec.dump_cart(cart_id, NOW)
    assert codec.load_cart(value, NOW + 10, 30 * DAY) == cart_id


def test_visitor_round_trip(codec: CookieCodec) -> None:
    state = VisitorState(new_id(), 3, NOW - 5 * DAY, NOW)
    assert codec.load_visitor(codec.dump_visitor(state), NOW, DAY) == state


def test_promotion_round_trip(codec: CookieCodec) -> None:
    attribution = Attribution("SUMMER24", NOW)
    value = codec.dump_promotion(attribution)
    assert codec.load_promotion(value, NOW + DAY, 30 * DAY) == attribution


@pytest.mark.parametrize(
    "attribution",
    [
        pytest.param(
            Attribution("other", NOW, landing=("SPRING", None, None)), id="code"
        ),
        pytest.param(
            Attribution("SPRING", NOW, "other", "other", ("SPRING", "news", None)),
            id="pair",
        ),
    ],
)
def test_a_landing_counted_under_others_keeps_its_own(
    codec: CookieCodec, attribution: Attribution
) -> None:
    value = codec.dump_promotion(attribution)
    loaded = codec.load_promotion(value, NOW + DAY, 30 * DAY)
    assert loaded == attribution
    assert loaded is not None and loaded.promotion == "SPRING"


def test_values_hold_no_cart_contents_or_personal_data(codec: CookieCodec) -> None:
    cart_id = new_id()
    value = codec.dump_cart(cart_id, NOW)
    payload = value.rsplit(".", 1)[0]
    assert payload == f"{cart_id}.{NOW}"


@pytest.mark.parametrize(
    ("age", "valid"),
    [
        pytest.param(0, True, id="new"),
        pytest.param(30 * DAY, True, id="last-second"),
        pytest.param(30 * DAY + 1, False, id="expired"),
        pytest.param(-30, True, id="small-clock-skew"),
        pytest.param(-3600, False, id="from-the-future"),
    ],
)
def test_expiry_is_enforced_from_the_signed_timestamp(
    codec: CookieCodec, age: int, valid: bool
) -> None:
    cart_id = new_id()
    value = codec.dump_cart(cart_id, NOW)
    assert (codec.load_cart(value, NOW + age, 30 * DAY) == cart_id) is valid


def test_a_value_never_verifies_as_another_purpose(codec: CookieCodec) -> None:
    cart_value = codec.dump_cart(new_id(), NOW)
    visitor_value = codec.dump_visitor(VisitorState(new_id(), 1, NOW, NOW))
    assert codec.load_visitor(cart_value, NOW, DAY) is None
    assert codec.load_promotion(cart_value, NOW, DAY) is None
    assert codec.load_cart(visitor_value, NOW, DAY) is None


def _tampered(value: str) -> str:
    payload, signature = value.rsplit(".", 1)
    flipped = "A" if payload[0] != "A" else "B"
    return f"{flipped}{payload[1:]}.{signature}"


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(_tampered, id="tampered"),
        pytest.param(lambda v: v[:-4], id="truncated"),
        pytest.param(lambda v: v.rsplit(".", 1)[0], id="unsigned"),
        pytest.param(lambda v: "garbage", id="garbage"),
        pytest.param(lambda v: "", id="empty"),
        pytest.param(lambda v: "é" * 40, id="non-ascii"),
        pytest.param(lambda v: "x" * 5000, id="huge"),
        pytest.param(
            lambda v: (
                Signer("foreign-key-0123456789", salt="qscookies.cart")
                .sign(v.rsplit(".", 1)[0])
                .decode()
            ),
            id="foreign-key",
        ),
    ],
)
def test_bad_values_are_absent(codec: CookieCodec, make_bad) -> None:  # type: ignore[no-untyped-def]
    value = codec.dump_cart(new_id(), NOW)
    assert codec.load_cart(make_bad(value), NOW, DAY) is None


def test_signed_payload_with_bad_fields_is_absent(codec: CookieCodec) -> None:
    signer = Signer([NEW], salt="qscookies.visitor")
    for payload in ("short.1.2.3", f"{new_id()}.0.{NOW}.{NOW}", f"{new_id()}.x.1.2"):
        value = signer.sign(payload).decode()
        assert codec.load_visitor(value, NOW, DAY) is None


def test_rotation_first_key_signs_all_verify() -> None:
    old = CookieCodec(OLD)
    rotated = CookieCodec([NEW, OLD])
    cart_id = new_id()
    assert rotated.load_cart(old.dump_cart(cart_id, NOW), NOW, DAY) == cart_id
    fresh = rotated.dump_cart(cart_id, NOW)
    assert CookieCodec(NEW).load_cart(fresh, NOW, DAY) == cart_id
    assert old.load_cart(fresh, NOW, DAY) is None


@pytest.mark.parametrize("purpose", ["cart", "visitor", "promotion"])
def test_values_are_itsdangerous_signatures(purpose: str) -> None:
    """Made here, they verify in itsdangerous; made there, they verify here."""
    codec = CookieCodec([NEW, OLD])
    signer = Signer([OLD, NEW], salt=f"qscookies.{purpose}")  # its last key signs
    dump, load, state = {
        "cart": (codec.dump_cart, codec.load_cart, new_id()),
        "visitor": (
            codec.dump_visitor,
            codec.load_visitor,
            VisitorState(new_id(), 2, NOW - 9, NOW),
        ),
        "promotion": (
            codec.dump_promotion,
            codec.load_promotion,
            Attribution("SUMMER24", NOW),
        ),
    }[purpose]
    value = dump(state, NOW) if purpose == "cart" else dump(state)  # type: ignore[operator]
    payload = signer.unsign(value).decode()
    assert signer.sign(payload).decode() == value
    by_old_key = Signer(OLD, salt=f"qscookies.{purpose}").sign(payload).decode()
    assert load(by_old_key, NOW, DAY) == state  # type: ignore[operator]


@pytest.mark.parametrize(
    "keys", [pytest.param("short", id="short"), pytest.param([], id="empty-list")]
)
def test_weak_secret_keys_are_rejected(keys: object) -> None:
    with pytest.raises(ConfigurationError, match="secret_key"):
        CookieCodec(keys)  # type: ignore[arg-type]


def test_repr_hides_the_secret() -> None:
    assert NEW not in repr(CookieCodec(NEW))


def test_cookie_name_prefix() -> None:
    assert cookie_name("qs_cart", secure=False) == "qs_cart"
    assert cookie_name("qs_cart", secure=True) == "__Host-qs_cart"


def test_set_cookie_attributes() -> None:
    header = set_cookie_header(
        "__Host-qs_cart", "v", max_age=60, secure=True, now=1_800_000_000
    )
    parts = [part.strip() for part in header.split(";")]
    assert parts[0] == "__Host-qs_cart=v"
    assert {"HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age=60"} <= set(parts)
    assert not any(part.lower().startswith("domain") for part in parts)


@pytest.mark.parametrize("secure", [True, False])
@pytest.mark.parametrize("value", ["a.B-c_d~1", "1", "needs quoting;"])
def test_set_cookie_header_is_werkzeugs(value: str, secure: bool) -> None:
    now = 1_800_000_000
    built = set_cookie_header("qs_cart", value, max_age=86400, secure=secure, now=now)
    dumped = dump_cookie(
        "qs_cart",
        value,
        max_age=86400,
        expires=now + 86400,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    assert built == dumped


def test_delete_cookie_header() -> None:
    header = delete_cookie_header("qs_visitor", secure=False)
    assert header.startswith("qs_visitor=;")
    assert "Max-Age=0" in header
    assert "Secure" not in header


@pytest.mark.parametrize("length", [0, 20, 64, 65, 200])
def test_the_mac_is_hmac_sha1_for_keys_of_any_length(length: int) -> None:
    """The pre-hashed pads of :class:`~qscookies.signing.Mac` give RFC 2104's
    HMAC, whatever the key."""
    import base64
    import hmac

    from qscookies.signing import Mac

    key = bytes(range(256))[:length]
    for payload in ["", "a" * 63, "x.1.2.3" * 40]:
        expected = hmac.digest(key, payload.encode(), "sha1")
        assert Mac(key)(payload) == base64.urlsafe_b64encode(expected).decode()[:27]


def _values(codec: CookieCodec) -> dict[str, tuple[str, object]]:
    """One value of each purpose: (its loader's name, what it says)."""
    visitor = VisitorState(new_id(), 3, NOW - DAY, NOW)
    attribution = Attribution("SUMMER", NOW, "news", "email")
    return {
        codec.dump_cart("c" * 22, NOW): ("load_cart_cookie", "c" * 22),
        codec.dump_visitor(visitor): ("load_visitor", visitor),
        codec.dump_promotion(attribution): ("load_promotion", attribution),
        codec.dump_choice(Choice("in", NOW)): ("load_choice", Choice("in", NOW)),
    }


def test_a_value_is_verified_once_and_its_age_read_every_time(
    codec: CookieCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsigned = []
    unsign = MacSigner.unsign
    monkeypatch.setattr(
        MacSigner,
        "unsign",
        lambda self, value: unsigned.append(value) or unsign(self, value),
    )
    for value, (loader, says) in _values(codec).items():
        load = getattr(codec, loader)
        for _ in range(3):
            read = load(value, NOW + 10, 30 * DAY)
            assert (read.cart_id if loader == "load_cart_cookie" else read) == says
        assert unsigned.count(value) == 1  # remembered after the first
        # Remembered, and still refused once too old or from the future.
        assert load(value, NOW + 30 * DAY + 1, 30 * DAY) is None
        assert load(value, NOW - 3600, 30 * DAY) is None
        assert unsigned.count(value) == 1


def test_a_value_that_fails_is_never_remembered(codec: CookieCodec) -> None:
    good = codec.dump_cart(new_id(), NOW)
    assert codec.load_cart(good, NOW, DAY) is not None
    bad = [_tampered(good), good[:-1], good + "A", "junk." * 20, f"{good}.{good}"]
    for _ in range(3):
        assert all(codec.load_cart(value, NOW, DAY) is None for value in bad)
    assert list(codec._carts._known) == [good]  # only the value that verified
    # A signed payload that reads as nothing (zero visits) is not kept either.
    signer = Signer([NEW], salt="qscookies.visitor")
    zero = signer.sign(f"{new_id()}.0.{NOW}.{NOW}").decode()
    assert codec.load_visitor(zero, NOW, DAY) is None
    assert not codec._visitors._known


def test_remembered_values_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "VERIFIED_MAX", 8)
    codec = CookieCodec(NEW)
    for n in range(100):
        state = VisitorState(new_id(), 1 + n, NOW, NOW)
        assert codec.load_visitor(codec.dump_visitor(state), NOW, DAY) == state
        assert len(codec._visitors._known) <= 8


def test_a_memo_forgets_everything_once_full() -> None:
    memo: Memo[str, int] = Memo(3)
    for n in range(3):
        assert memo.keep(str(n), n) == n
    assert memo == {"0": 0, "1": 1, "2": 2}
    memo.keep("3", 3)
    assert memo == {"3": 3} and memo.most == 3
