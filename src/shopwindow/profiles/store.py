"""The profile store's one interface, which both backends implement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from shopwindow.profiles.model import (
    Activity,
    DropReminder,
    Order,
    Profile,
    PurchaseLine,
    email_hash,
)
from shopwindow.settings import Settings

DEFAULT_DB_NAME = "shopwindow.sqlite3"


class StoreUnavailable(Exception):
    """The backend did not answer (down, slow, locked): callers serve without it."""


class ProfileStore(Protocol):
    """What every backend does; both pass one shared test suite (tests/test_profilestore.py)."""

    name: str

    def get(self, customer_id: str) -> Profile | None:
        """The customer's profile, or None when the store has never heard of them."""
        ...

    def customer_for_email(self, email_hash: str) -> str | None: ...

    def rekey_email(self, old_hash: str, new_hash: str, customer_id: str) -> None:
        """Keep the customer's email under the hash of the current secret from now on."""
        ...

    def orders(self, customer_id: str, limit: int = 20) -> list[Order]:
        """The customer's orders with their lines, online and in store, newest first."""
        ...

    def add_purchases(self, lines: Sequence[PurchaseLine]) -> int:
        """Store the lines not stored yet; returns how many were new (a re-import adds 0)."""
        ...

    def update_activity(self, reports: Mapping[str, Activity]) -> None:
        """Fold each customer's report into what the store holds (see model.merge_activity)."""
        ...

    def remind(self, customer_id: str, drop: str, at: int) -> None:
        """Record that the customer wants to hear when `drop` opens (asked twice: once)."""
        ...

    def reminders(self, drop: str | None = None) -> list[DropReminder]:
        """Every drop reminder (or one drop's), by drop, then oldest ask first."""
        ...

    def forget(self, customer_id: str) -> bool:
        """Erase everything stored on the customer (right to erasure); False if nothing was."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def customer_for_email_address(store: ProfileStore, email: str, settings: Settings) -> str | None:
    """The customer with this email, also when it was hashed with a secret in secret_fallbacks.

    Found under an earlier secret, the email is stored again under the current one
    (and the old entry dropped), so the next search finds it at once.
    """
    current = email_hash(email, settings.secret)
    found = store.customer_for_email(current)
    if found is not None:
        return found
    for old_secret in settings.secret_fallbacks:
        old = email_hash(email, old_secret)
        found = store.customer_for_email(old)
        if found is not None:
            store.rekey_email(old, current, found)
            return found
    return None


def profile_db_path(settings: Settings) -> str:
    """The shop's SQLite file: the profile_db setting, else shopwindow.sqlite3 in the rules folder.

    The same file the stats store and the unmatched-campaign counts default to,
    so a single-node shop has one file to back up.
    """
    if settings.profile_db:
        return str(settings.profile_db)
    return str(Path(settings.rules) / DEFAULT_DB_NAME)
