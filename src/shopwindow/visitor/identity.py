"""Proof that the shop's backend vouches for a customer id: a user_hash or a short-lived token.

A device is linked to a stored customer profile only with such a proof, made by
the shop's backend with `identity_secret` (never sent to a browser):

- ``user_hash``: hex HMAC-SHA256(identity_secret, customer_id), the same for
  that customer every time (as Intercom's identity verification);
- ``token``: ``"<expires>.<hex>"`` with ``<expires>`` in epoch seconds and
  ``<hex>`` = hex HMAC-SHA256(identity_secret, customer_id + "\\n" + expires);
  valid until it expires, and for at most MAX_TOKEN_SECONDS ahead.

A claim without a proof, or with a wrong one, is refused with a reason that
never depends on whether the customer exists: the store is not consulted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

MAX_TOKEN_SECONDS = 86_400  # a token that lives longer is a user_hash with extra steps


class IdentityRefused(ValueError):
    """A claim the beacon turns down; the message says why, for the shop's developer."""


def _mac(identity_secret: str, message: str) -> str:
    return hmac.new(identity_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def user_hash(identity_secret: str, customer_id: str) -> str:
    """What the shop's backend sends with `identify`: hex HMAC-SHA256 of the customer id."""
    return _mac(identity_secret, customer_id)


def identity_token(identity_secret: str, customer_id: str, expires: int) -> str:
    """A proof for `customer_id` that stops working at `expires` (epoch seconds)."""
    signed = f"{customer_id}\n{expires}"
    return f"{expires}.{_mac(identity_secret, signed)}"


class Identity:
    """Checks proofs against `identity_secret` and, while a rotation lasts, its fallbacks."""

    def __init__(self, secret: str, fallbacks: Sequence[str] = ()) -> None:
        self.secrets = tuple(s for s in (secret, *fallbacks) if s) if secret else ()

    @property
    def enabled(self) -> bool:
        return bool(self.secrets)

    def verify(
        self,
        customer_id: str,
        user_hash: str | None = None,
        token: str | None = None,
        now: int | None = None,
    ) -> str:
        """The proven customer id, or IdentityRefused saying why (the same for any id).

        The one check for every caller that links anything to a customer on the
        strength of a browser's request: `shop.identity.verify(customer_id,
        user_hash=..., token=...)`. The store is never read here.
        """
        if not self.secrets:
            raise IdentityRefused(
                "identify is off: the shop has not set identity_secret (docs/profiles.md)"
            )
        if user_hash is None and token is None:
            raise IdentityRefused(
                "identify needs a proof from the shop's backend: user_hash or token"
                " (docs/profiles.md)"
            )
        if user_hash is not None:
            given = user_hash.lower().encode()
            if any(hmac.compare_digest(given, _mac(s, customer_id).encode()) for s in self.secrets):
                return customer_id
            raise IdentityRefused("user_hash does not match customer_id")
        expires_text, dot, _ = (token or "").partition(".")
        if not dot or not expires_text.isdigit() or len(expires_text) > 12:
            raise IdentityRefused("token must be <expires>.<hex> (docs/profiles.md)")
        expires = int(expires_text)
        given = (token or "").lower().encode()
        if not any(
            hmac.compare_digest(given, identity_token(s, customer_id, expires).encode())
            for s in self.secrets
        ):
            raise IdentityRefused("token does not match customer_id")
        at = int(time.time()) if now is None else now
        if expires <= at:
            raise IdentityRefused("token has expired: make a new one for each page")
        if expires > at + MAX_TOKEN_SECONDS:
            raise IdentityRefused(
                f"token lives too long: expires at most {MAX_TOKEN_SECONDS} seconds ahead"
            )
        return customer_id


def identity_of(settings: Any) -> Identity:
    return Identity(settings.identity_secret, settings.identity_secret_fallbacks)
