"""What the storefront's placements share: genders, homepage paths filled from a visit, names."""

from __future__ import annotations

from typing import Any

from shopwindow.catalog.feed import Product
from shopwindow.rules.pathtemplate import fill_path
from shopwindow.rules.rules import Decision, Rule
from shopwindow.shop import Snapshot
from shopwindow.visitor.context import Visit, arms_of

# The landing placement's name and answer header, also given by shoppable posts' answers.
LANDING_PLACEMENT = "landing-pages"
LANDING_HEADER = "X-Shopwindow-Landing"

GENDERS = ("women", "men", "kids")


def decide_homepage(snap: Snapshot, visit: Visit) -> tuple[Decision, str]:
    ctx = visit.ctx

    def fillable(rule: Rule) -> bool:
        return fill_path(rule.then.get("path", "/"), ctx) is not None

    decision = snap.rules.decide(
        "homepage", ctx, visit.visitor.id, accept=fillable, assigned=arms_of(visit)
    )
    if decision.rule is None:
        return decision, f"/{ctx.get('market') or visit.country.lower()}/"
    path = fill_path(decision.then.get("path", "/"), ctx) or "/"
    return decision, path


def product_json(product: Product) -> dict[str, Any]:
    """What the JSON answer says of a recommended product."""
    return {
        "id": product.id,
        "name": product.name,
        "url": product.url,
        "image": product.image,
        "price": product.price,
        "currency": product.currency,
        "category": product.category,
        "gender": product.gender,
        "tier": product.tier,
        "in_stock": product.in_stock,
    }
