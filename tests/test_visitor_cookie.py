"""The signed visitor cookie: compact, bounded, and a new visitor whenever it does not verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.catalog.feed import build_catalog
from shopwindow.catalog.generate import generate_catalog
from shopwindow.profiles.service import share_popups
from shopwindow.visitor import popupcaps
from shopwindow.visitor.cookie import COMPRESS_FROM, VERSION, CookieCodec, Visitor
from shopwindow.visitor.events import Event, Weights, apply, record_popup

codec = CookieCodec("secret-a", 365)


def test_round_trip_keeps_everything() -> None:
    v = Visitor.fresh(int(time.time()))
    v.viewed = ["a", "b"]
    v.gender = {"women": 3.0}
    v.category = {"bags": 2.5}
    v.searches = ["running shoes"]
    v.orders = 2
    v.full_price = ["x"]
    v.cart = [["a", 1, 9.5]]
    v.popups = {"bag": [1, 1, 1, 5, 1, 0]}
    v.buckets = {"exp": "b"}
    v.customer_id = "c-1"
    back = codec.decode(codec.encode(v))
    assert back is not None
    assert (back.id, back.viewed, back.gender, back.category) == (
        v.id,
        v.viewed,
        v.gender,
        v.category,
    )
    assert (back.searches, back.orders, back.full_price, back.cart) == (
        v.searches,
        v.orders,
        v.full_price,
        v.cart,
    )
    assert (back.popups, back.buckets, back.customer_id) == (v.popups, v.buckets, v.customer_id)
    assert back.new is False and back.changed is False


def test_tag_is_the_documented_hmac_sha256() -> None:
    # Another system holding the secret can check a cookie: HMAC-SHA256 with the
    # key sha256("shopwindow.visitor.v1:<secret>"), first 16 bytes, base64url.
    value = codec.encode(Visitor.fresh(int(time.time())))
    payload, _, tag = value.rpartition(".")
    key = hashlib.sha256(f"shopwindow.visitor.v{VERSION}:secret-a".encode()).digest()
    expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
    assert tag == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_small_cookies_are_plain_and_large_ones_deflated() -> None:
    def body(value: str) -> bytes:
        payload = value.rpartition(".")[0].partition(".")[2]
        return base64.urlsafe_b64decode(payload + "==")

    small = Visitor.fresh(int(time.time()))
    assert body(codec.encode(small))[:1] == b"{"
    large = Visitor.fresh(int(time.time()))
    large.viewed = [f"product-{i:04d}" for i in range(12)]
    large.searches = ["trail running shoes for women"] * 5
    large.category = {f"category-{i}": float(i) for i in range(8)}
    raw = body(codec.encode(large))
    assert raw[:1] == b"z"
    inflated = zlib.decompressobj(-15).decompress(raw[1:])
    assert len(inflated) >= COMPRESS_FROM
    assert codec.decode(codec.encode(large)) is not None


def test_tampered_cookie_is_a_new_visitor() -> None:
    token = codec.encode(Visitor.fresh(int(time.time())))
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert codec.decode(flipped) is None
    assert codec.decode(token[: len(token) // 2]) is None
    assert CookieCodec("another-secret", 365).decode(token) is None


def test_expired_cookie_is_a_new_visitor() -> None:
    now = int(time.time())
    token = codec.encode(Visitor.fresh(now - 366 * 86400))
    assert codec.decode(token) is None
    fresh = codec.encode(Visitor.fresh(now - 364 * 86400))
    assert codec.decode(fresh) is not None
    assert codec.decode(fresh, now=now + 2 * 86400) is None  # also once cached


def test_other_version_is_a_new_visitor() -> None:
    token = codec.encode(Visitor.fresh(int(time.time())))
    assert codec.decode("0" + token[1:]) is None
    assert codec.decode("2" + token[1:]) is None


def test_decoded_visitors_are_independent_copies() -> None:
    token = codec.encode(Visitor.fresh(int(time.time())))
    first = codec.decode(token)
    assert first is not None
    record_popup(first, "welcome", "popup_shown", int(time.time()))
    first.buckets["exp"] = "b"
    second = codec.decode(token)
    assert second is not None and second.popups == {} and second.buckets == {}


def test_changing_a_copy_every_way_the_service_does_leaves_the_cached_cookie_alone() -> None:
    """A copy shares the lists and scores that are only ever replaced (Visitor's docstring).

    Every changer of a visitor runs on a decoded copy; the codec's cached original
    must still equal the cookie read afresh by another codec.
    """
    catalog = build_catalog(generate_catalog(200, seed=5))
    ids = list(catalog.products)
    now = int(time.time())
    weights = Weights()
    start = Visitor.fresh(now)
    for event in (
        Event("view", product_id=ids[0]),
        Event("add_to_cart", product_id=ids[1]),
        Event("add_to_cart", product_id=ids[2]),
        Event("search", query="red socks"),
        Event("purchase", items=((ids[3], 10.0, True),)),
    ):
        apply(start, event, catalog, weights, now)
    record_popup(start, "welcome", "popup_shown", now)
    start.buckets["exp"] = "a"
    token = codec.encode(start)

    copy = codec.decode(token)
    assert copy is not None
    later = now + 40 * 86400  # past a half-life step: the scores decay as well
    for event in (
        Event("view", product_id=ids[4]),
        Event("add_to_cart", product_id=ids[1]),  # a line already in the cart
        Event("add_to_cart", product_id=ids[5]),
        Event("remove_from_cart", product_id=ids[2]),
        Event("search", query="blue socks"),
        Event("purchase", items=((ids[5], 20.0, True),)),
        Event("identify", customer_id="c-2"),
        Event("popup_dismissed", rule="welcome"),
    ):
        apply(copy, event, catalog, weights, later)
    popupcaps.record_show(copy, "welcome", later)
    popupcaps.record_close(copy, later)
    share_popups(copy, {"exit-offer": [1, 0, 0, later // 86400, 1, 0]})
    copy.buckets["exp"] = "b"
    copy.touch(later, 1800)

    cached = codec.decode(token)
    afresh = CookieCodec("secret-a", 365).decode(token)
    assert cached is not None and afresh is not None
    assert cached == afresh
    assert copy != afresh  # the changes above did happen, on the copy


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=600))
def test_garbage_never_raises(value: str) -> None:
    assert codec.decode(value) is None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", max_size=400
    )
)
def test_signed_looking_garbage_never_raises(value: str) -> None:
    assert codec.decode("." + value) is None


def test_cookie_stays_small_after_ten_thousand_events() -> None:
    catalog = build_catalog(generate_catalog(3000, seed=3))
    ids = list(catalog.products)
    v = Visitor.fresh(int(time.time()))
    weights = Weights()
    now = int(time.time())
    for n in range(10_000):
        pid = ids[(n * 7919) % len(ids)]
        kind = ("view", "add_to_cart", "search", "purchase", "popup_shown")[n % 5]
        if kind == "search":
            event = Event("search", query=f"query number {n} " + "x" * 80)
        elif kind == "purchase":
            event = Event("purchase", items=((pid, 10.0, True),))
        elif kind == "popup_shown":
            record_popup(v, f"rule-{n % 40}", "popup_shown", now + n)
            continue
        else:
            event = Event(kind, product_id=pid)
        apply(v, event, catalog, weights, now + n)
        v.buckets[f"exp-{n % 60}"] = "variant-b"
        v.buckets = dict(list(v.buckets.items())[-24:])
    token = codec.encode(v)
    assert len(token) < 4096, len(token)
    assert len(v.viewed) == 12 and len(v.searches) == 5 and len(v.popups) <= 12
    assert codec.decode(token) is not None


def test_new_session_after_idle() -> None:
    v = Visitor.fresh(1_000)
    v.touch(1_000 + 60, 1800)
    assert v.sessions == 1
    v.touch(1_000 + 60 + 1801, 1800)
    assert v.sessions == 2
