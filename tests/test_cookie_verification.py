"""Verified visitor cookies are remembered per worker, without ever accepting a bad one."""

from __future__ import annotations

import time

import pytest

from shopwindow.visitor import CookieCodec, Visitor


def test_a_remembered_cookie_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = CookieCodec("secret", max_age_days=1)
    value = codec.encode(Visitor.fresh(int(time.time())))
    assert codec.decode(value) is not None
    assert codec.decode(value) is not None  # remembered
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert codec.decode(value) is None


def test_each_decode_gives_a_visitor_of_its_own() -> None:
    codec = CookieCodec("secret", max_age_days=1)
    visitor = Visitor.fresh(int(time.time()))
    visitor.viewed = ["a", "b"]
    visitor.cart = [["a", 1, 9.5]]
    value = codec.encode(visitor)
    first = codec.decode(value)
    assert first is not None
    first.viewed.append("c")
    first.cart[0][1] = 5
    first.sessions += 1
    second = codec.decode(value)
    assert second is not None
    assert (second.viewed, second.cart, second.sessions) == (["a", "b"], [["a", 1, 9.5]], 1)


def test_tampered_and_foreign_cookies_are_refused_even_after_a_good_one() -> None:
    codec = CookieCodec("secret", max_age_days=1)
    value = codec.encode(Visitor.fresh(int(time.time())))
    assert codec.decode(value) is not None
    assert codec.decode(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
    assert CookieCodec("another secret", max_age_days=1).decode(value) is None
