"""The visitor as the signed cookie remembers them, and the codec for that cookie."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lru import LRU

VERSION = 1
MAX_VIEWED = 12
MAX_SEARCHES = 5
MAX_SEARCH_LEN = 60
MAX_CATEGORIES = 8
MAX_FULL_PRICE = 20
MAX_CART = 20
MAX_POPUPS = 12
MAX_BUCKETS = 24
MAX_ID_LEN = 64
# A payload shorter than this is sent as it is: deflating a few hundred bytes saves
# about a third of them but costs more than the rest of the encoding (~5 µs).
# Long-lived shoppers' cookies (views, searches, popups, buckets) are compressed.
COMPRESS_FROM = 512
# What a device linked to a customer carries that came from, or belongs to, that
# customer: sealed (AES-GCM) inside the signed cookie, so the cookie shows none of it.
LINKED = ("x", "r", "g", "c", "f", "k")
_SEALED_AAD = b"shopwindow.visitor.linked"


@dataclass(slots=True)
class Visitor:
    """One shopper as the cookie remembers them.

    viewed, gender, category, searches, full_price and cart are replaced when they
    change, never changed in place (events.apply), so a copy may share them with
    the codec's cached original; popups and buckets are changed in place and
    copied. tests/test_visitor_cookie.py holds every changer to this.
    """

    id: str
    new: bool = True
    sessions: int = 1
    seen: int = 0  # last activity, epoch seconds
    viewed: list[str] = field(default_factory=list)  # newest first
    gender: dict[str, float] = field(default_factory=dict)
    category: dict[str, float] = field(default_factory=dict)
    affinity_at: int = 0  # when the scores were last decayed
    searches: list[str] = field(default_factory=list)  # newest first
    orders: int = 0
    full_price: list[str] = field(default_factory=list)
    cart: list[list[Any]] = field(default_factory=list)  # [product_id, qty, price]
    purchase_session: int = 0  # session number of the last purchase
    # rule id -> [shown total, session of last show, shown in that session,
    #             day of last show, shown that day, dismissed at (epoch s)]
    popups: dict[str, list[int]] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)  # rule id -> variant
    customer_id: str | None = None
    changed: bool = True  # whether the cookie must be written again
    # What visitor/context.py derives from this cookie, shared by the codec's cached copy
    # of a verified cookie and every copy made from it (never in the cookie).
    derived: list[Any] | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def fresh(now: int) -> Visitor:
        return Visitor(id=new_id(), seen=now, affinity_at=now)

    def touch(self, now: int, idle_seconds: int) -> None:
        """Count a new session after idle time; remember activity coarsely to spare writes."""
        if self.seen and now - self.seen > idle_seconds:
            self.sessions += 1
            self.changed = True
        # Activity is remembered to the nearest few minutes (a fifth of the idle
        # time), so a shopper browsing pages does not get a new cookie each time.
        if now - self.seen > idle_seconds // 5:
            self.seen = now
            self.changed = True

    def copy(self) -> Visitor:
        """A copy to change (the codec's cache keeps the original); see the class docstring."""
        return Visitor(
            self.id,
            self.new,
            self.sessions,
            self.seen,
            self.viewed,
            self.gender,
            self.category,
            self.affinity_at,
            self.searches,
            self.orders,
            self.full_price,
            self.cart,
            self.purchase_session,
            {k: list(v) for k, v in self.popups.items()},
            dict(self.buckets),
            self.customer_id,
            self.changed,
            self.derived,
        )


def new_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(12)).decode()


class _Keys:
    """The signing and sealing keys derived from one secret."""

    __slots__ = ("aead", "inner", "outer")

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(f"shopwindow.visitor.v{VERSION}:{secret}".encode()).digest()
        # HMAC (RFC 2104) from two SHA-256 states keyed once: copying them per cookie
        # is cheaper than the hmac module's per-call setup.
        block = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        sealing = hashlib.sha256(f"shopwindow.visitor.sealed.v{VERSION}:{secret}".encode())
        self.aead = AESGCM(sealing.digest())

    def tag(self, signed: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(signed)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return _b64(outer.digest()[:16])

    def seal(self, data: bytes) -> str:
        # Compressed before sealing when it pays: sealed bytes do not compress.
        data = _deflated(data)
        nonce = os.urandom(12)
        return _b64(nonce + self.aead.encrypt(nonce, data, _SEALED_AAD)).decode()

    def unseal(self, text: Any) -> Any:
        if not isinstance(text, str):
            raise TypeError(text)
        raw = base64.urlsafe_b64decode(text + "==")
        try:
            data = self.aead.decrypt(raw[:12], raw[12:], _SEALED_AAD)
        except InvalidTag:
            raise ValueError("sealed part does not open") from None
        if data[:1] == b"z":
            data = zlib.decompressobj(-15).decompress(data[1:], 65536)
        return orjson.loads(data)


class CookieCodec:
    """HMAC-SHA256-signed, versioned, compressed-when-it-pays visitor cookie.

    Format: ``<version>.<base64url payload>.<base64url tag>``: the payload is
    orjson (raw-deflated from COMPRESS_FROM bytes when that is shorter, flagged
    by a leading "z"); the tag is the first 16 bytes of
    HMAC-SHA256(key, "<version>.<payload>") with the key derived once from the
    secret. A device linked to a customer carries the LINKED fields sealed with
    AES-GCM under a second key from the secret ("e", deflated inside the seal
    when that pays; the payload around it is then left as it is), never in
    readable form;
    a cookie that holds them in the open was linked without a proof (before
    proofs were asked for) and reads as an unlinked visitor without them.
    Cookies signed with one of `fallbacks` (earlier secrets) are read and
    marked changed, so they are signed again with the secret. Anything that
    does not verify —
    tampered, truncated, expired, another version or garbage — reads as None:
    the caller starts a new visitor. Verified cookies are cached (bounded LRU),
    so a returning visitor's unchanged cookie is not verified and parsed again.
    """

    def __init__(
        self,
        secret: str,
        max_age_days: int,
        cache_size: int = 20_000,
        fallbacks: tuple[str, ...] | list[str] = (),
    ) -> None:
        self._keys = _Keys(secret)
        self._fallbacks = tuple(_Keys(s) for s in fallbacks if s and s != secret)
        self._prefix = f"{VERSION}."
        self._signed_prefix = self._prefix.encode()
        self.max_age = max_age_days * 86400
        self._cache: LRU[str, Visitor] = LRU(cache_size)

    def encode(self, visitor: Visitor) -> str:
        return self.encode_bytes(visitor).decode()

    def encode_bytes(self, visitor: Visitor) -> bytes:
        """The cookie's value as ASCII bytes, ready for a Set-Cookie header."""
        raw = orjson.dumps(_pack(visitor, self._keys))
        # A linked visitor's sealed part is compressed already, and the rest is short.
        body = raw if visitor.customer_id else _deflated(raw)
        payload = self._signed_prefix + _b64(body)
        return payload + b"." + self._keys.tag(payload)

    def decode(self, value: str | None, now: int | None = None) -> Visitor | None:
        if not value or len(value) > 8192 or not value.startswith(self._prefix):
            return None
        cached = self._cache.get(value)
        if cached is None:
            cached = self._verify(value)
            if cached is None:
                return None
            cached.derived = []
            self._cache[value] = cached
        if (now if now is not None else int(time.time())) - cached.seen > self.max_age:
            return None
        return cached.copy()

    def _verify(self, value: str) -> Visitor | None:
        payload, dot, tag = value.rpartition(".")
        if not dot or not value.isascii():
            return None
        signed = payload.encode()
        given = tag.encode()
        keys: _Keys | None = self._keys
        if not hmac.compare_digest(given, self._keys.tag(signed)):
            keys = next(
                (k for k in self._fallbacks if hmac.compare_digest(given, k.tag(signed))), None
            )
        if keys is None:
            return None
        try:
            body = base64.urlsafe_b64decode(payload[len(self._prefix) :] + "==")
            if body[:1] == b"z":
                body = zlib.decompressobj(-15).decompress(body[1:], 65536)
            visitor = _unpack(orjson.loads(body), keys)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error):
            return None
        if visitor is not None and keys is not self._keys:
            visitor.changed = True  # signed with an earlier secret: sign it again
        return visitor


def _deflated(raw: bytes) -> bytes:
    """`raw`, or "z" + its raw deflate when that is shorter (from COMPRESS_FROM bytes)."""
    if len(raw) < COMPRESS_FROM:
        return raw
    # Raw deflate with a small memory level: setting up zlib's default 256 KB
    # state cost more than compressing a few hundred bytes.
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, 2)
    packed = deflate.compress(raw) + deflate.flush()
    return b"z" + packed if len(packed) + 1 < len(raw) else raw


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """Unpadded base64url (RFC 4648 §5), without the base64 module's extra passes."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class Cents(dict[str, float]):
    """Scores as a cookie held them: already to two decimals, so not rounded again.

    A visitor's copy shares them until an event replaces them (Visitor's docstring).
    """

    __slots__ = ()


def _cents(scores: dict[str, float]) -> dict[str, float]:
    """Scores to two decimals, as the cookie keeps them (round(x, 2) costs 5× more)."""
    if type(scores) is Cents:
        return scores
    return {k: round(x * 100) / 100 for k, x in scores.items()}


def _pack(v: Visitor, keys: _Keys) -> dict[str, Any]:
    out: dict[str, Any] = {"v": VERSION, "i": v.id, "s": v.sessions, "t": v.seen}
    if v.viewed:
        out["r"] = v.viewed
    if v.gender:
        out["g"] = _cents(v.gender)
    if v.category:
        out["c"] = _cents(v.category)
    out["a"] = v.affinity_at
    if v.searches:
        out["q"] = v.searches
    if v.orders:
        out["o"] = v.orders
    if v.full_price:
        out["f"] = v.full_price
    if v.cart:
        out["k"] = v.cart
    if v.purchase_session:
        out["p"] = v.purchase_session
    if v.popups:
        out["u"] = v.popups
    if v.buckets:
        out["b"] = v.buckets
    if v.customer_id:
        out["x"] = v.customer_id
        linked = {k: out.pop(k) for k in LINKED if k in out}
        out["e"] = keys.seal(orjson.dumps(linked))
    return out


def _unpack(d: Any, keys: _Keys) -> Visitor | None:
    if not isinstance(d, dict) or d.get("v") != VERSION:
        return None
    if "e" in d:
        linked = keys.unseal(d["e"])
        if not isinstance(linked, dict) or not linked.get("x"):
            return None
        d = {**{k: v for k, v in d.items() if k not in LINKED}, **linked}
    unproven = "x" in d and "e" not in d
    if unproven:
        # Linked without a proof: the customer's fields go, the device's own stay.
        d = {k: v for k, v in d.items() if k not in LINKED}
    vid = d["i"]
    if not isinstance(vid, str) or not 0 < len(vid) <= MAX_ID_LEN:
        return None
    return Visitor(
        id=vid,
        new=False,
        sessions=_int(d["s"]),
        seen=_int(d["t"]),
        viewed=_strs(d.get("r"), MAX_VIEWED),
        gender=_scores(d.get("g"), 4),
        category=_scores(d.get("c"), MAX_CATEGORIES),
        affinity_at=_int(d.get("a", 0)),
        searches=_strs(d.get("q"), MAX_SEARCHES),
        orders=_int(d.get("o", 0)),
        full_price=_strs(d.get("f"), MAX_FULL_PRICE),
        cart=_cart(d.get("k")),
        purchase_session=_int(d.get("p", 0)),
        popups=_popups(d.get("u")),
        buckets={str(k): str(x) for k, x in (d.get("b") or {}).items()},
        customer_id=str(d["x"])[:MAX_ID_LEN] if d.get("x") else None,
        changed=unproven,
    )


def _int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(x)
    return x


def _strs(x: Any, cap: int) -> list[str]:
    if x is None:
        return []
    if not isinstance(x, list):
        raise TypeError(x)
    return [str(s)[:MAX_ID_LEN] for s in x[:cap]]


def _scores(x: Any, cap: int) -> dict[str, float]:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise TypeError(x)
    return Cents({str(k)[:MAX_ID_LEN]: float(v) for k, v in list(x.items())[:cap]})


def _cart(x: Any) -> list[list[Any]]:
    if x is None:
        return []
    if not isinstance(x, list):
        raise TypeError(x)
    return [[str(i[0])[:MAX_ID_LEN], _int(i[1]), float(i[2])] for i in x[:MAX_CART]]


def _popups(x: Any) -> dict[str, list[int]]:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise TypeError(x)
    out = {}
    for k, v in list(x.items())[:MAX_POPUPS]:
        if not isinstance(v, list) or len(v) != 6:
            raise TypeError(v)
        out[str(k)] = [_int(n) for n in v]
    return out
