"""The popups placement: GET /_sw/popup picks the exit-intent offer for this cart and session.

The browser script (/_sw/sw.js) asks when it sees exit intent; the rules in
popups.yaml decide, the visitor's popup history (in the signed cookie) caps
them, and the answer is an HTML fragment, JSON for sites that render their own
popup, or 204 No Content when nothing applies.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.catalog.searchpicks import SearchMatch, match_search
from shopwindow.hooks import Hooks
from shopwindow.pages.clientscript import SCRIPT, SCRIPT_PATH, script_endpoint
from shopwindow.rules.pathtemplate import fill_path
from shopwindow.rules.rules import NO_DECISION, Decision, Rule
from shopwindow.serve import metrics
from shopwindow.serve.request import query_of, shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import (
    HTML_TYPE,
    JSON_TYPE,
    JSONAnswer,
    RawAnswer,
    json_body,
    personalize,
    safe_path,
    wants_json,
)
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor import popupcaps
from shopwindow.visitor.context import Visit, arms_of, product_context
from shopwindow.visitor.events import Event
from shopwindow.visitor.popupcaps import PopupLimits

PLACEMENT = "popups"
TRIGGERS = ("exit",)
SIGNALS = frozenset({"top", "scroll", "idle", "return", "api"})
DEFAULT_TEMPLATE = "popup.html"
MAX_CART_LINES = 6
MAX_SEARCH_PICKS = 12
_SEARCH = "{search}"
_GENDERS = ("women", "men", "kids")

# Used when the shop's templates folder has no popup.html: the same dialog, unstyled.
FALLBACK_TEMPLATE = """\
<div class="sw-popup" data-sw-popup role="dialog" aria-modal="true" aria-labelledby="sw-popup-title" \
data-sw-rule="{{ popup.rule }}" data-sw-variant="{{ popup.variant or '' }}">
<button type="button" class="sw-popup-close" data-sw-close aria-label="Close">&times;</button>
<h2 id="sw-popup-title">{{ popup.title }}</h2>
{% if popup.body %}<p>{{ popup.body }}</p>{% endif %}
{% if popup.offer and popup.offer.code %}<p>Code <strong>{{ popup.offer.code }}</strong></p>{% endif %}
{% for item in popup.cart %}<p><a href="{{ item.url }}">{{ item.name }}</a></p>{% endfor %}
{% for item in popup.products %}<p><a href="{{ item.url }}">{{ item.name }}</a></p>{% endfor %}
{% if popup.cta and popup.cta_url %}<a class="sw-popup-cta" data-sw-convert href="{{ popup.cta_url }}">{{ popup.cta }}</a>\
{% elif popup.cta %}<button type="button" class="sw-popup-cta" data-sw-convert>{{ popup.cta }}</button>{% endif %}
</div>
"""


# --- what each rule advertises, worked out once per snapshot ---------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What a popup rule shows over all its variants, for the full-price check."""

    discount: bool
    categories: frozenset[str]
    products: frozenset[str]
    show_cart: bool
    search_products: int
    uses_search: bool  # the popup's text or link carries the visitor's latest search

    @staticmethod
    def of(rule: Rule) -> Plan:
        thens = [rule.then, *(v.then for v in rule.split.variants)] if rule.split else [rule.then]
        offers = [t.get("offer") or {} for t in thens]
        texts = [str(t.get(name) or "") for t in thens for name in ("title", "body", "cta_url")]
        return Plan(
            discount=any(
                _positive(o.get("percent_off")) or _positive(o.get("amount_off")) for o in offers
            ),
            categories=frozenset(str(o["category"]) for o in offers if o.get("category")),
            products=frozenset(pid for t in thens for pid in _ids(t.get("products"))),
            show_cart=any(t.get("show_cart") for t in thens),
            search_products=max(int(t.get("search_products") or 0) for t in thens),
            uses_search=any(_SEARCH in text for text in texts)
            or any(t.get("search_products") for t in thens),
        )

    def advertises(
        self,
        bought: Collection[str],
        bought_categories: Collection[str],
        cart: Iterable[Sequence[Any]],
        search: SearchMatch | None,
    ) -> bool:
        """Whether the popup would put one of these products (or their category) on show."""
        if not self.categories.isdisjoint(bought_categories):
            return True
        if not self.products.isdisjoint(bought):
            return True
        if self.show_cart and any(line[0] in bought for line in cart):
            return True
        return bool(
            self.search_products
            and search is not None
            and any(p.id in bought for p in search.products[: self.search_products])
        )


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True, slots=True)
class PopupState:
    """Per shop: the shop-wide limits (the plans and answers belong to each snapshot)."""

    limits: PopupLimits


def plans_of(snap: Snapshot) -> Mapping[str, Plan]:
    """Each popup rule's plan, prepared once per snapshot (snap.derived) and dropped with it."""
    derived = snap.derived
    plans: Mapping[str, Plan] | None = derived.popup_plans
    if plans is None:
        rules = snap.rules.placement(PLACEMENT).rules
        plans = derived.popup_plans = {r.id: Plan.of(r) for r in rules}
    return plans


def state_of(shop: Shop) -> PopupState:
    state = shop.services.popups
    if state is None:  # pragma: no cover - app.install_placements installs it
        raise RuntimeError("popups not installed")
    return state


# --- the decision -----------------------------------------------------------------


@dataclass(slots=True)
class Choice:
    decision: Decision
    search: SearchMatch | None = None
    searched: bool = field(default=False, repr=False)


def decide_popup(shop: Shop, snap: Snapshot, visit: Visit, now: int) -> Choice:
    """The offer for this visitor now: the first popup rule that matches and is not capped."""
    visitor = visit.visitor
    if (
        not visit.consent
        or visit.device == "bot"
        or visit.ctx.get("visitor.purchased_this_session")
    ):
        return Choice(NO_DECISION)
    plans = plans_of(snap)
    if popupcaps.closed_this_session(visitor) or not popupcaps.shop_allows(
        state_of(shop).limits, visitor, now
    ):
        return Choice(NO_DECISION)
    catalog = snap.catalog
    bought = visitor.full_price
    bought_categories = _categories(catalog, bought) if bought else frozenset()
    choice = Choice(NO_DECISION)

    # One closure only: a closure that calls another keeps it in their shared scope
    # when compiled (setup.py), a reference cycle per request.
    def accept(rule: Rule) -> bool:
        if not popupcaps.rule_allows(rule.caps, visitor, rule.id, now):
            return False
        plan = plans.get(rule.id)
        if plan is None:  # pragma: no cover - every popup rule has a plan
            return True
        found = _searched(choice, catalog, visit) if plan.search_products else None
        if plan.search_products and found is None:
            return False  # a search nudge with nothing to show is no nudge
        return not (
            plan.discount
            and bought
            and plan.advertises(bought, bought_categories, visit.cart, found)
        )

    choice.decision = snap.rules.decide(
        PLACEMENT, visit.ctx, visitor.id, accept=accept, assigned=arms_of(visit)
    )
    return choice


def _searched(choice: Choice, catalog: Catalog, visit: Visit) -> SearchMatch | None:
    """What the visitor's last search finds, looked up once per decision."""
    if not choice.searched:
        choice.searched = True
        searches = visit.visitor.searches
        if searches:
            gender = visit.ctx.get("visitor.gender")
            choice.search = match_search(catalog, searches[0], MAX_SEARCH_PICKS, gender)
    return choice.search


def _categories(catalog: Catalog, product_ids: Iterable[str]) -> frozenset[str]:
    return frozenset(p.category for pid in product_ids if (p := catalog.get(pid)) is not None)


# --- the answer -------------------------------------------------------------------


def popup_view(
    snap: Snapshot, visit: Visit, choice: Choice, cta_url: str | None, words: str | None
) -> dict[str, Any]:
    """The popup as data: what the template renders and what JSON clients get."""
    decision = choice.decision
    assert decision.rule is not None
    then = decision.then
    catalog = snap.catalog
    count = int(then.get("search_products") or 0)
    search = choice.search if count else None
    products = [p for pid in _ids(then.get("products")) if (p := catalog.get(pid)) and p.in_stock]
    if search is not None:
        products.extend(p for p in search.products[:count] if p not in products)
    cart: list[dict[str, Any]] = []
    if then.get("show_cart"):
        for pid, qty, price in visit.cart[:MAX_CART_LINES]:
            product = catalog.get(pid)
            if product is not None:
                cart.append({**_card(product), "price": price or product.price, "quantity": qty})
    offer = then.get("offer")
    return {
        "rule": decision.rule.id,
        "variant": decision.variant,
        "title": _fill(str(then["title"]), words),
        "body": _fill(str(then["body"]), words) if then.get("body") else None,
        "cta": str(then["cta"]) if then.get("cta") else None,
        "cta_url": cta_url,
        "offer": dict(offer) if offer else None,
        "cart": cart,
        "products": [_card(p) for p in products],
        "search": words,
    }


def _card(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "url": product.url,
        "image": product.image,
        "price": product.price,
        "currency": product.currency,
    }


def _fill(text: str, search: str | None) -> str:
    return text.replace(_SEARCH, search or "") if _SEARCH in text else text


def cta_url_for(visit: Visit, then: Mapping[str, Any], search: SearchMatch | None) -> str | None:
    """The call to action's link: the rule's path, filled in; else the searched category's page."""
    raw = then.get("cta_url")
    if raw:
        path = raw if isinstance(raw, str) else str(raw)  # compiled with the rule (pathtemplate)
        if _SEARCH in path:
            words = visit.visitor.searches[0] if visit.visitor.searches else ""
            path = path.replace(_SEARCH, quote(words, safe=""))
        filled = fill_path(path, visit.ctx)
        # The rule's path is local; what fills its placeholders must keep it so.
        return safe_path(filled) if filled is not None else None
    if search is not None and then.get("search_products"):
        gender = search.gender or next(
            (p.gender for p in search.products if p.gender in _GENDERS), None
        )
        if gender:
            store = visit.ctx.get("market") or visit.country.lower()
            return f"/{store}/{gender}/{search.category}/"
    return None


def render(shop: Shop, snap: Snapshot, visit: Visit, choice: Choice, as_json: bool) -> bytes:
    """The answer's body; the same inputs give the same bytes, so they are kept per snapshot."""
    decision = choice.decision
    assert decision.rule is not None
    then = decision.then
    plan = plans_of(snap).get(decision.rule.id)
    searches = visit.visitor.searches
    words = searches[0] if searches and plan is not None and plan.uses_search else None
    cta_url = cta_url_for(visit, then, choice.search)
    key = (
        as_json,
        decision.rule.id,
        decision.variant,
        cta_url,
        tuple(map(tuple, visit.cart[:MAX_CART_LINES])) if then.get("show_cart") else None,
        words,
    )
    rendered = snap.derived.popups
    body = rendered.get(key)
    if body is None:
        view = popup_view(snap, visit, choice, cta_url, words)
        if as_json:
            body = json_body(view)
        else:
            template = _template(shop, str(then.get("template") or DEFAULT_TEMPLATE))
            body = template.render(popup=view).encode()
        rendered[key] = body
    return body


def _template(shop: Shop, name: str) -> jinja2.Template:
    try:
        return shop.templates.get_template(name)
    except jinja2.TemplateNotFound:
        return shop.templates.from_string(FALLBACK_TEMPLATE)


# A plain function: it waits on nothing, so it answers at once (entry.Endpoint).
def popup_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    params = query_of(request)
    trigger = params.get("trigger") or "exit"
    if trigger not in TRIGGERS:
        return JSONAnswer(
            {"error": f"trigger must be one of {', '.join(TRIGGERS)}"},
            400,
            headers={"Cache-Control": "no-store"},
        )
    visit = visit_of(request, snap)
    ctx = visit.ctx
    signal = params.get("signal")
    ctx["popup.trigger"] = trigger
    ctx["popup.signal"] = signal if signal in SIGNALS else None
    product_id = params.get("product")
    if product_id and (product := snap.catalog.get(product_id[:64])) is not None:
        ctx.update(product_context(product))
    now = int(time.time())
    choice = decide_popup(shop, snap, visit, now)
    rule = choice.decision.rule
    if rule is None:
        return personalize(RawAnswer(204, []), shop, visit, choice.decision.labels)
    metrics.count_match(PLACEMENT, rule.id)
    as_json = wants_json(request)
    body = render(shop, snap, visit, choice, as_json)
    popupcaps.record_show(visit.visitor, rule.id, now)
    response = RawAnswer(200, [JSON_TYPE if as_json else HTML_TYPE], body)
    return personalize(response, shop, visit, choice.decision.labels)


# --- wiring -------------------------------------------------------------------------


def closed_popups(shop: Shop, visit: Visit, events: Sequence[Event]) -> None:
    """A dismissed or taken-up popup ends popups for the rest of the visitor's session."""
    if any(e.type in ("popup_dismissed", "popup_converted") and e.rule for e in events):
        popupcaps.record_close(visit.visitor, int(time.time()))


async def popup_script_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The `popup-script` fragment: the script tag, for sites that include shopwindow's parts."""
    return SCRIPT.tag, []


def install(shop: Shop, hooks: Hooks) -> PopupState:
    settings = shop.settings
    hooks.fragments["popup-script"] = popup_script_slot
    hooks.events.append(closed_popups)
    return PopupState(PopupLimits(settings.popups_per_session, settings.popups_per_day))


routes = [
    Route("/_sw/popup", popup_endpoint, methods=["GET"]),
    Route(SCRIPT_PATH, script_endpoint, methods=["GET", "HEAD"]),
]
