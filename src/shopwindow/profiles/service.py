"""Profiles on the request path: cached lookups, profile.* in the context, write-behind from events.

A node reads a customer's profile at most once per `profile_cache_seconds`;
what the beacon reports is queued and written by a background flusher, so a
request never waits for a write. When the store does not answer within its
timeout the node serves from the cookie alone (degraded mode: one log line,
`shopwindow_degraded_total{part="profiles"}`), and tries again on its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from cachetools import LRUCache, TTLCache
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from shopwindow.hooks import Hooks
from shopwindow.profiles.model import (
    Activity,
    Profile,
    PurchaseLine,
    cart_of,
    full_price_union,
    merge_activity,
    merge_popup,
    merge_scores,
    newest_unique,
    order_key,
    popup_recency,
)
from shopwindow.profiles.open_store import open_store
from shopwindow.profiles.store import ProfileStore, StoreUnavailable
from shopwindow.serve import metrics
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import personalize, wants_json
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import Visit
from shopwindow.visitor.cookie import MAX_CATEGORIES, MAX_POPUPS, MAX_VIEWED, Visitor
from shopwindow.visitor.events import Event
from shopwindow.visitor.sales import in_main_currency

log = logging.getLogger("shopwindow.profiles")

_MISS = object()
# Popup history entries that describe this device's session rather than a rule
# (popupcaps.ANY: "closed a popup this session"); they are never shared.
DEVICE_ONLY_POPUPS = frozenset({"*"})
RETRY_AFTER = 1.0  # seconds a node serves from the cookie alone before asking the store again
MAX_PENDING = 100_000  # queued writes kept while the store is away; the oldest go first
FLUSH_BATCH = 2_000

# What rules see for a visitor the store has nothing on: no orders anywhere.
ANONYMOUS: dict[str, Any] = {
    "profile.known": False,
    "profile.orders": 0,
    "profile.online_orders": 0,
    "profile.offline_orders": 0,
    "profile.lifetime_value": 0.0,
    "profile.preferred_store": None,
}
# The store did not answer for an identified customer: rules that test the
# profile do not match (an offline buyer must not get a first-order offer
# because Redis was restarting).
UNAVAILABLE: dict[str, Any] = {
    "profile.known": False,
    "profile.orders": None,
    "profile.online_orders": None,
    "profile.offline_orders": None,
    "profile.lifetime_value": None,
    "profile.preferred_store": None,
}


class Profiles:
    """The profile store as one node uses it: a TTL cache, a write-behind queue, degraded mode."""

    def __init__(
        self,
        store: ProfileStore,
        *,
        ttl: float = 5.0,
        flush_interval: float = 0.1,
        half_life_days: float = 30.0,
        cache_size: int = 100_000,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.half_life_days = half_life_days
        self.retry_after = retry_after
        self._fresh: TTLCache[str, Profile | None] = TTLCache(cache_size, ttl)
        # The last profile read of each customer, served while the store is away.
        self._stale: LRUCache[str, Profile | None] = LRUCache(cache_size)
        # Records this version cannot read: logged once, not read again for a minute.
        self._unreadable: TTLCache[str, bool] = TTLCache(1000, 60)
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, Activity | None, tuple[PurchaseLine, ...]]] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        self.degraded = False
        self._retry_at = 0.0

    # --- reads ---------------------------------------------------------------

    def lookup(self, customer_id: str) -> tuple[Profile | None, bool]:
        """(profile or None when unknown, whether the answer is from the store or its cache)."""
        with self._lock:
            hit = self._fresh.get(customer_id, _MISS)
            unreadable = customer_id in self._unreadable
        if hit is not _MISS:
            return hit, True  # type: ignore[return-value]
        if unreadable or (self.degraded and time.monotonic() < self._retry_at):
            return self._without_store(customer_id)
        try:
            profile = self.store.get(customer_id)
        except StoreUnavailable as exc:
            self._failed(exc)
            return self._without_store(customer_id)
        except Exception:  # a record this version cannot read: still no error page
            log.exception("profile of customer %r unreadable", customer_id)
            with self._lock:
                self._unreadable[customer_id] = True
            return self._without_store(customer_id)
        self._answered()
        with self._lock:
            self._fresh[customer_id] = profile
            self._stale[customer_id] = profile
        return profile, True

    def _without_store(self, customer_id: str) -> tuple[Profile | None, bool]:
        metrics.DEGRADED.labels("profiles").inc()
        with self._lock:
            stale = self._stale.get(customer_id, _MISS)
        if stale is _MISS:
            return None, False
        return stale, True  # type: ignore[return-value]

    def invalidate(self, customer_ids: Sequence[str]) -> None:
        """Drop cached profiles this node has just written, so its next read is fresh."""
        with self._lock:
            for cid in customer_ids:
                self._fresh.pop(cid, None)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = not self.degraded
            self.degraded = True
            self._retry_at = time.monotonic() + self.retry_after
        if first:
            log.warning(
                "profile store (%s) unreachable, serving from the cookie alone: %s",
                self.store.name,
                exc,
            )

    def _answered(self) -> None:
        if self.degraded:
            with self._lock:
                was, self.degraded = self.degraded, False
            if was:
                log.warning("profile store (%s) answers again: profiles are back", self.store.name)

    # --- writes --------------------------------------------------------------

    def report(
        self, customer_id: str, activity: Activity | None, lines: Sequence[PurchaseLine] = ()
    ) -> None:
        """Queue what a beacon said about a customer; the flusher writes it off the request path."""
        with self._lock:
            self._pending.append((customer_id, activity, tuple(lines)))
            while len(self._pending) > MAX_PENDING:
                self._pending.popleft()
                metrics.DEGRADED.labels("profile-writes").inc()
        if lines:
            self._wake.set()  # an order should count soon

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> bool:
        """Write what is queued now; False (and everything kept) when the store did not take it."""
        while True:
            with self._lock:
                batch = [
                    self._pending.popleft() for _ in range(min(FLUSH_BATCH, len(self._pending)))
                ]
            if not batch:
                return True
            reports: dict[str, Activity] = {}
            lines: list[PurchaseLine] = []
            for customer_id, activity, bought in batch:
                lines.extend(bought)
                if activity is not None:
                    before = reports.get(customer_id)
                    reports[customer_id] = (
                        activity
                        if before is None
                        else merge_activity(before, activity, self.half_life_days)
                    )
            try:
                self.store.add_purchases(lines)
                self.store.update_activity(reports)
            except StoreUnavailable as exc:
                metrics.DEGRADED.labels("profile-writes").inc()
                self._failed(exc)
                with self._lock:
                    # Back at the front, in order: both writes are idempotent merges.
                    self._pending.extendleft(reversed(batch))
                return False
            self._answered()
            self.invalidate([*reports, *(line.customer_id for line in lines)])

    def start(self) -> None:
        if self._flusher is not None:
            return
        self._stopping.clear()

        def run() -> None:
            while not self._stopping.is_set():
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                try:
                    if not self.flush():
                        self._stopping.wait(self.retry_after)
                except Exception:  # the flusher must outlive any one bad batch
                    log.exception("profile flush failed")

        self._flusher = threading.Thread(target=run, name="shopwindow-profiles", daemon=True)
        self._flusher.start()

    def stop(self) -> None:
        """Stop the flusher and write what is left (a few tries while the store is away)."""
        if self._flusher is not None:
            self._stopping.set()
            self._wake.set()
            self._flusher.join(timeout=10)
            self._flusher = None
        for _ in range(3):
            if self.flush():
                break
            time.sleep(0.2)
        left = self.pending()
        if left:
            log.error("profile store (%s): %d queued writes not written", self.store.name, left)
        self.store.close()


def profiles_for(settings: Any) -> Profiles:
    return Profiles(
        open_store(settings),
        ttl=float(settings.profile_cache_seconds),
        flush_interval=settings.profile_flush_ms / 1000,
        half_life_days=float(settings.affinity_half_life_days),
    )


# --- the request path --------------------------------------------------------


def context_hook(shop: Shop, visit: Visit, snap: Snapshot) -> None:
    """profile.* for rules; an identified customer's popup history shared across devices."""
    ctx = visit.ctx
    customer_id = visit.visitor.customer_id
    profiles = shop.services.profiles
    if not customer_id or not visit.consent or profiles is None:
        ctx.update(ANONYMOUS)
        return
    profile, available = profiles.lookup(customer_id)
    if not available:
        ctx.update(UNAVAILABLE)
        return
    if profile is None:
        ctx.update(ANONYMOUS)
        return
    ctx["profile.known"] = True
    ctx["profile.orders"] = profile.orders
    ctx["profile.online_orders"] = profile.online_orders
    ctx["profile.offline_orders"] = profile.offline_orders
    ctx["profile.lifetime_value"] = round(profile.lifetime_value, 2)
    ctx["profile.preferred_store"] = profile.preferred_store
    if profile.full_price:
        # Bought at full price anywhere (in store too): no discount ad for it.
        ctx["visitor.bought_full_price"] = full_price_union(visit.visitor.full_price, profile)
    share_popups(visit.visitor, profile.activity.popups)


def share_popups(visitor: Visitor, shared: Mapping[str, Sequence[int]]) -> None:
    """Merge the customer's popup history from other devices into this visitor's cookie.

    Totals, days and dismissals are shared; the (session, shown that session)
    pair stays this device's own, since session numbers are counted per device.
    """
    if not shared:
        return
    popups = visitor.popups
    changed = False
    for rule_id, entry in shared.items():
        if rule_id in DEVICE_ONLY_POPUPS:
            continue
        local = popups.get(rule_id)
        merged = list(merge_popup(local, entry))
        merged[1], merged[2] = (local[1], local[2]) if local else (0, 0)
        if merged != local:
            popups[rule_id] = merged
            changed = True
    if changed:
        ordered = sorted(popups.items(), key=lambda item: popup_recency(item[1]))
        visitor.popups = dict(ordered[-MAX_POPUPS:])
        visitor.changed = True


def adopt(visitor: Visitor, profile: Profile, half_life_days: float) -> None:
    """A device that just identified becomes the customer: views, affinity, caps, purchases."""
    act = profile.activity
    visitor.viewed = list(newest_unique(visitor.viewed, act.viewed, cap=MAX_VIEWED))
    visitor.gender, at = merge_scores(
        visitor.gender, visitor.affinity_at, act.gender, act.affinity_at, half_life_days, 4
    )
    visitor.category, _ = merge_scores(
        visitor.category,
        visitor.affinity_at,
        act.category,
        act.affinity_at,
        half_life_days,
        MAX_CATEGORIES,
    )
    visitor.affinity_at = at
    visitor.full_price = full_price_union(visitor.full_price, profile)
    if not visitor.cart and act.cart:
        visitor.cart = [list(line) for line in act.cart]
    share_popups(visitor, act.popups)
    visitor.changed = True


_CART_EVENTS = frozenset({"add_to_cart", "remove_from_cart", "purchase", "identify"})
_POPUP_EVENTS = frozenset({"popup_shown", "popup_dismissed", "popup_converted"})


def event_sink(shop: Shop, visit: Visit, events: list[Event]) -> None:
    """After `identify`, what this visitor does is the customer's: queued for the profile store."""
    visitor = visit.visitor
    customer_id = visitor.customer_id
    profiles = shop.services.profiles
    if not customer_id or not events or profiles is None:
        return
    now = int(time.time())
    kinds = {e.type for e in events}
    if "identify" in kinds:
        profile, _ = profiles.lookup(customer_id)
        if profile is not None:
            adopt(visitor, profile, shop.weights.half_life_days)
    lines: list[PurchaseLine] = []
    for event in events:
        if event.type != "purchase":
            continue
        key = order_key("online", event.order_id or f"{visitor.id}@{now}", "", now)
        lines.extend(
            PurchaseLine(
                customer_id,
                pid,
                round(in_main_currency(shop, visit, event, price) * 100),
                full,
                "",
                now,
                key,
            )
            for pid, price, full in event.items
        )
    popups = {
        e.rule: tuple(visitor.popups[e.rule])
        for e in events
        if e.type in _POPUP_EVENTS
        and e.rule
        and e.rule in visitor.popups
        and e.rule not in DEVICE_ONLY_POPUPS
    }
    activity = Activity(
        viewed=tuple(visitor.viewed),
        gender=dict(visitor.gender),
        category=dict(visitor.category),
        affinity_at=visitor.affinity_at,
        cart=cart_of(visitor.cart) if kinds & _CART_EVENTS else None,
        popups=popups,
        first_seen=now,
        last_seen=now,
    )
    profiles.report(customer_id, activity, lines)


def exposure_sink(shop: Shop, visit: Visit, labels: list[str]) -> None:
    """A popup recorded when it was served (not by a beacon) is shared with other devices too."""
    customer_id = visit.visitor.customer_id
    profiles = shop.services.profiles
    if not customer_id or not visit.consent or profiles is None:
        return
    popups = visit.visitor.popups
    shared = {
        rule: tuple(popups[rule])
        for label in labels
        if (rule := label.partition(":")[0]) in popups and rule not in DEVICE_ONLY_POPUPS
    }
    if shared:
        profiles.report(customer_id, Activity(popups=shared))


# --- the store-pickup banner ---------------------------------------------------


def render_store_pickup(shop: Shop, visit: Visit) -> str:
    store = visit.ctx.get("profile.preferred_store")
    if not store:
        return ""
    return shop.templates.get_template("_store_pickup.html").render(preferred_store=store)


async def store_pickup_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The banner for a customer who buys in a store: pick up your order there."""
    return render_store_pickup(shop, visit), []


async def store_pickup_fragment(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    if wants_json(request):
        store = visit.ctx.get("profile.preferred_store")
        return personalize(JSONResponse({"preferred_store": store}), shop, visit)
    return personalize(HTMLResponse(render_store_pickup(shop, visit)), shop, visit)


async def _start(shop: Shop) -> None:
    profiles = shop.services.profiles
    if profiles is not None:
        profiles.start()


async def _stop(shop: Shop) -> None:
    profiles = shop.services.profiles
    if profiles is not None:
        # The last flush may wait on the store; other shutdown work need not.
        await asyncio.to_thread(profiles.stop)


def install(shop: Shop, hooks: Hooks) -> Profiles:
    hooks.context.append(context_hook)
    hooks.events.append(event_sink)
    hooks.exposures.append(exposure_sink)
    hooks.fragments["store-pickup"] = store_pickup_slot
    hooks.on_start.append(_start)
    hooks.on_stop.append(_stop)
    # A shop installed twice (an app built again around it) keeps its open store.
    return shop.services.profiles or profiles_for(shop.settings)


routes = [Route("/_sw/fragments/store-pickup", store_pickup_fragment, methods=["GET"])]
