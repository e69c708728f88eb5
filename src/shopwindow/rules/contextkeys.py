"""The context keys a rule may test, with their types: the rule compiler's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Key:
    path: str
    type: str  # "text" | "number" | "bool" | "list" | "time"
    help: str
    # In every visit's context from the start (context.context_for, or a context
    # hook on every visit); False: set only by the answer that needs it.
    every_visit: bool = True


KEYS: dict[str, Key] = {
    k.path: k
    for k in [
        # who and where
        Key("country", "text", "ISO country code, upper case (DE), from the CDN header or GeoIP"),
        Key(
            "market",
            "text",
            "the market's path prefix (de), when rules/markets.yaml declares markets",
        ),
        Key("device", "text", "mobile, tablet, desktop or bot"),
        Key("language", "text", "first language of Accept-Language, lower case (de)"),
        Key(
            "channel",
            "text",
            "paid_search, paid_social, social, email, search, referral or direct",
        ),
        Key("referrer", "text", "host of the referring page"),
        Key("path", "text", "the requested path"),
        Key("host", "text", "the requested host"),
        Key("time", "time", "the moment of the request (ISO text in conditions)"),
        Key("hour", "number", "hour of day in the shop's time zone, 0-23"),
        Key("weekday", "text", "day of week in the shop's time zone: mon ... sun"),
        Key("day", "number", "day of month in the shop's time zone, 1-31"),
        # campaign (UTM and click ids)
        Key("campaign.source", "text", "utm_source"),
        Key("campaign.medium", "text", "utm_medium"),
        Key("campaign.name", "text", "utm_campaign"),
        Key("campaign.term", "text", "utm_term (the ad keyword)"),
        Key("campaign.content", "text", "utm_content"),
        Key("campaign.click_id", "text", "gclid, fbclid, msclkid or another ad click id"),
        Key("campaign.click_kind", "text", "google, meta, microsoft or tiktok"),
        Key("campaign.present", "bool", "true when the URL carries campaign parameters"),
        Key(
            "campaign.gender",
            "text",
            "gender read from the ad keyword (women, men, kids)",
            every_visit=False,
        ),
        Key(
            "campaign.category",
            "text",
            "catalog category read from the ad keyword",
            every_visit=False,
        ),
        Key(
            "campaign.attributes",
            "list",
            "attributes read from the ad keyword (color:black)",
            every_visit=False,
        ),
        Key(
            "campaign.occasion",
            "text",
            "occasion read from the keyword or campaign name (black-friday, abandoned-cart)",
            every_visit=False,
        ),
        Key("landing.slug", "text", "the {slug} of a landing path /lp/{slug}", every_visit=False),
        # the visitor, from the signed cookie
        Key("visitor.id", "text", "the visitor's id"),
        Key("visitor.new", "bool", "true on the first request of a new visitor"),
        Key("visitor.sessions", "number", "number of sessions, this one included"),
        Key("visitor.orders", "number", "number of orders placed"),
        Key("visitor.gender", "text", "gender the visitor shops most, when one clearly leads"),
        Key("visitor.category", "text", "category the visitor shops most, when one clearly leads"),
        Key("visitor.gender_strength", "number", "affinity score of the visitor's leading gender"),
        Key(
            "visitor.category_strength",
            "number",
            "affinity score of the visitor's leading category",
        ),
        Key("visitor.categories", "list", "the visitor's top categories, strongest first"),
        Key("visitor.viewed", "list", "recently viewed product ids, newest first"),
        Key("visitor.searches", "list", "recent search queries, newest first"),
        Key("visitor.bought_full_price", "list", "product ids bought at full price"),
        Key("visitor.purchased_this_session", "bool", "true after a purchase in this session"),
        Key("visitor.customer_id", "text", "customer id after an identify event"),
        # the cart
        Key("cart.items", "number", "number of items in the cart"),
        Key("cart.value", "number", "value of the cart"),
        Key("cart.categories", "list", "categories of the products in the cart"),
        Key("cart.products", "list", "product ids in the cart"),
        # the product on the page (product pages, out-of-stock)
        Key("product.id", "text", "id of the product on the page", every_visit=False),
        Key("product.category", "text", "category of the product on the page", every_visit=False),
        Key("product.gender", "text", "gender of the product on the page", every_visit=False),
        Key(
            "product.in_stock",
            "bool",
            "whether the product on the page is in stock",
            every_visit=False,
        ),
        Key("product.price", "number", "price of the product on the page", every_visit=False),
        Key(
            "product.tier",
            "text",
            "tier of the product on the page (premium, ...)",
            every_visit=False,
        ),
        # the customer profile (profile store)
        Key("profile.known", "bool", "true when the profile store knows this customer"),
        Key("profile.orders", "number", "all orders, online and in store"),
        Key("profile.online_orders", "number", "orders placed online"),
        Key("profile.offline_orders", "number", "orders placed in a store"),
        Key("profile.lifetime_value", "number", "total spent, online and in store"),
        Key("profile.preferred_store", "text", "the store the customer buys in most"),
        # experiments
        Key("segment", "text", "the segment key of this answer", every_visit=False),
        # the popup request (GET /_sw/popup)
        Key(
            "popup.trigger",
            "text",
            "what asked for the popup: exit (exit intent)",
            every_visit=False,
        ),
        Key(
            "popup.signal",
            "text",
            "which exit-intent signal fired: top, scroll, idle, return or api",
            every_visit=False,
        ),
        # the social post a visitor comes from (rules/posts.yaml)
        Key(
            "post.id",
            "text",
            "the post named by /lp/post/{id} or by utm_content",
            every_visit=False,
        ),
        Key(
            "post.channel",
            "text",
            "that post's channel: instagram, tiktok, pinterest, ...",
            every_visit=False,
        ),
    ]
}


def suggest(path: str) -> str | None:
    """The closest known key, for a 'did you mean' hint."""
    import difflib

    close = difflib.get_close_matches(path, KEYS.keys(), n=1, cutoff=0.6)
    return close[0] if close else None
