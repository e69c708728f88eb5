"""The store associate's picture of one customer: what they browsed, like, hold and bought.

Built from the profile store's record, the order history and the catalog, plus the popup
offer the customer would get now; the staff page renders it as HTML or JSON, and
`shopwindow profile show` prints the same picture in a terminal. Reading it changes
nothing: no cookie, no exposure, no popup shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from shopwindow.catalog.feed import Catalog
from shopwindow.hooks import ContextHook
from shopwindow.profiles.model import Order, Profile
from shopwindow.serve.request import assemble_visit
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import RequestFacts
from shopwindow.visitor.cookie import MAX_FULL_PRICE, Visitor


@dataclass(frozen=True, slots=True)
class CustomerView:
    """Everything the staff page shows, as plain data (to_json) or terminal text (to_text)."""

    customer_id: str
    profile: Profile
    orders: tuple[Order, ...]
    catalog: Catalog
    tz: tzinfo
    offer: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    def when(self, at: int) -> str | None:
        if not at:
            return None
        return datetime.fromtimestamp(at, self.tz).strftime("%Y-%m-%d %H:%M")

    def product(self, product_id: str) -> dict[str, Any]:
        p = self.catalog.get(product_id)
        if p is None:
            return {"id": product_id, "name": "(no longer in the catalog)", "url": None}
        return {
            "id": p.id,
            "name": p.name,
            "url": p.url,
            "image": p.image,
            "price": p.price,
            "currency": p.currency,
            "category": p.category,
            "gender": p.gender,
            "in_stock": p.in_stock,
        }

    def to_json(self) -> dict[str, Any]:
        profile = self.profile
        act = profile.activity
        orders = []
        for order in self.orders:
            orders.append(
                {
                    "order": order.key,
                    "channel": order.channel,
                    "store": order.store or None,
                    "time": self.when(order.at),
                    "total": order.total_cents / 100,
                    "items": [
                        {**self.product(pid), "paid": cents / 100, "full_price": full}
                        for pid, cents, full in order.lines
                    ],
                }
            )
        return {
            "customer_id": self.customer_id,
            "first_seen": self.when(profile.first_seen),
            "last_seen": self.when(profile.last_seen),
            "orders_total": profile.orders,
            "online_orders": profile.online_orders,
            "offline_orders": profile.offline_orders,
            "lifetime_value": round(profile.lifetime_value, 2),
            "preferred_store": profile.preferred_store,
            "viewed": [self.product(pid) for pid in act.viewed],
            "affinity": {
                "gender": shares(act.gender),
                "category": shares(act.category),
            },
            "cart": [
                {**self.product(pid), "quantity": qty, "cart_price": price}
                for pid, qty, price in act.cart or ()
            ],
            "orders": orders,
            "offer": dict(self.offer) if self.offer is not None else None,
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        data = self.to_json()
        out = [f"customer {data['customer_id']}"]
        seen = f"first seen {data['first_seen'] or '-'}, last seen {data['last_seen'] or '-'}"
        out.append(f"  {seen}")
        out.append(
            f"  orders: {data['orders_total']} ({data['online_orders']} online,"
            f" {data['offline_orders']} in store), lifetime value {data['lifetime_value']:.2f}"
        )
        out.append(f"  preferred store: {data['preferred_store'] or '(buys online only)'}")
        out.append("")
        out.append("recently viewed online (newest first):")
        out.extend(f"  {_product_line(p)}" for p in data["viewed"])
        if not data["viewed"]:
            out.append("  (nothing yet)")
        out.append("")
        out.append("affinity:")
        for kind in ("gender", "category"):
            scores = data["affinity"][kind]
            text = ", ".join(f"{s['name']} {s['share']:.0%}" for s in scores) or "(none yet)"
            out.append(f"  {kind}: {text}")
        out.append("")
        out.append("cart:")
        for line in data["cart"]:
            out.append(f"  {line['quantity']} x {_product_line(line, line['cart_price'])}")
        if not data["cart"]:
            out.append("  (empty)")
        out.append("")
        out.append("orders, online and in store (newest first):")
        for order in data["orders"]:
            where = f"in store: {order['store']}" if order["store"] else "online"
            out.append(f"  {order['time']}  {where}  total {order['total']:.2f}")
            for item in order["items"]:
                full = "" if item["full_price"] else "  (discounted)"
                out.append(f"      {item['id']}  {item['name']}  {item['paid']:.2f}{full}")
        if not data["orders"]:
            out.append("  (none)")
        out.append("")
        offer = data["offer"]
        out.append("open offer (the exit-intent popup they would get now):")
        out.append(f"  {offer_text(offer)}")
        out.extend(f"note: {note}" for note in data["notes"])
        return "\n".join(out) + "\n"


def _product_line(p: Mapping[str, Any], price: float | None = None) -> str:
    shown = price if price is not None else p.get("price")
    money = f"  {shown:.2f} {p.get('currency') or ''}".rstrip() if shown is not None else ""
    stock = "" if p.get("in_stock", True) else "  (sold out)"
    return f"{p['id']}  {p['name']}{money}{stock}"


def offer_text(offer: Mapping[str, Any] | None) -> str:
    if offer is None:
        return "none right now"
    variant = f" (variant {offer['variant']})" if offer.get("variant") else ""
    code = offer.get("code")
    return f"{offer['rule']}{variant}: {offer['title']}" + (f", code {code}" if code else "")


def shares(scores: Mapping[str, float]) -> list[dict[str, Any]]:
    """Affinity scores, strongest first, with each one's share of the total."""
    total = sum(scores.values()) or 1.0
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"name": k, "score": round(v, 2), "share": round(v / total, 3)} for k, v in ranked]


# --- the offer they would get now -------------------------------------------------------


def visitor_for(profile: Profile, now: int) -> Visitor:
    """The customer as a device of theirs would carry them on their next visit.

    The visitor id is the customer id, so a split shows the same variant every time
    the page is opened (a device of theirs may sit in another one). Session counts
    in the popup history belong to the device that showed the popup: zeroed here.
    """
    act = profile.activity
    return Visitor(
        id=profile.customer_id,
        new=False,
        sessions=2,
        seen=now,
        viewed=list(act.viewed),
        gender=dict(act.gender),
        category=dict(act.category),
        affinity_at=act.affinity_at or now,
        orders=profile.orders,
        full_price=profile.full_price[:MAX_FULL_PRICE],
        cart=[list(line) for line in act.cart or ()],
        popups={rule: [e[0], 0, 0, e[3], e[4], e[5]] for rule, e in act.popups.items()},
        customer_id=profile.customer_id,
        changed=False,
    )


def profile_context(profile: Profile) -> dict[str, Any]:
    """The profile.* keys service.context_hook sets, from the record read here (fresher
    than a node's profile cache)."""
    return {
        "profile.known": True,
        "profile.orders": profile.orders,
        "profile.online_orders": profile.online_orders,
        "profile.offline_orders": profile.offline_orders,
        "profile.lifetime_value": round(profile.lifetime_value, 2),
        "profile.preferred_store": profile.preferred_store,
    }


def open_offer(
    shop: Shop, snap: Snapshot, profile: Profile, now: int, skip: Sequence[ContextHook] = ()
) -> dict[str, Any] | None:
    """The popup the customer would get on exit intent now, or None; nothing is recorded."""
    from shopwindow.placements.popups import cta_url_for, decide_popup, popup_view

    if shop.services.popups is None:
        return None
    visitor = visitor_for(profile, now)
    facts = RequestFacts(None, {}, {}, {}, "/")
    at = datetime.fromtimestamp(now, shop.tz)
    visit = assemble_visit(shop, snap, facts, visitor, consent=True, now=at, skip=skip)
    visit.ctx.update(profile_context(profile))
    visit.ctx["visitor.bought_full_price"] = visitor.full_price
    visit.ctx["popup.trigger"] = "exit"
    choice = decide_popup(shop, snap, visit, now)
    decision = choice.decision
    if decision.rule is None:
        return None
    view = popup_view(snap, visit, choice, cta_url_for(visit, decision.then, choice.search), None)
    offer = view.get("offer") or {}
    return {
        "rule": view["rule"],
        "variant": view["variant"],
        "title": view["title"],
        "body": view["body"],
        "code": offer.get("code"),
        "percent_off": offer.get("percent_off"),
        "amount_off": offer.get("amount_off"),
        "free_shipping": offer.get("free_shipping"),
    }


def customer_view(
    shop: Shop,
    snap: Snapshot,
    profile: Profile,
    orders: Sequence[Order],
    now: int,
    skip: Sequence[ContextHook] = (),
) -> CustomerView:
    notes: list[str] = []
    if profile.orders and not orders:
        notes.append(
            "orders counted but not itemised: they were stored before the order history was kept"
        )
    return CustomerView(
        customer_id=profile.customer_id,
        profile=profile,
        orders=tuple(orders),
        catalog=snap.catalog,
        tz=shop.tz,
        offer=open_offer(shop, snap, profile, now, skip),
        notes=tuple(notes),
    )
