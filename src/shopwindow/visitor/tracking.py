"""Click ids and tracking parameters: kept through every redirect, left out of cache keys."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote_plus, urlencode

# Each name with the platform that appends it and the platform's help pages that document it.
# docs/landing-pages.md lists them for marketers; docs/cdn.md builds cache keys from them.
CLICK_ID_PLATFORMS: Mapping[str, str] = {
    "gclid": "google",  # Google Ads Help: About auto-tagging
    "gbraid": "google",  # Google Ads Help: About gbraid and wbraid (iOS app-to-web)
    "wbraid": "google",  # Google Ads Help: About gbraid and wbraid (iOS web-to-app)
    "gad_source": "google",  # Google Ads Help: auto-tagging adds it beside gclid
    "gad_campaignid": "google",  # Google Ads Help: auto-tagging, campaign id of the click
    "dclid": "google",  # Campaign Manager 360 Help: Display click ID (dclid)
    "msclkid": "microsoft",  # Microsoft Advertising Help: What is auto-tagging of MSCLKID?
    "fbclid": "meta",  # Meta: appended to outbound links from Facebook and Instagram
    "ttclid": "tiktok",  # TikTok Ads Manager Help: About ttclid
    "twclid": "x",  # X Ads Help: Conversion tracking: click ID (twclid)
    "li_fat_id": "linkedin",  # LinkedIn Help: Enhanced conversion tracking (li_fat_id)
    "ScCid": "snapchat",  # Snapchat Business Help: Click ID (ScCid)
    "epik": "pinterest",  # Pinterest Business Help: Enhanced match: epik click id
    "rdt_cid": "reddit",  # Reddit Ads Help: Conversions API: click id (rdt_cid)
    "yclid": "yandex",  # Yandex Direct Help: yclid
    "obclid": "outbrain",  # Outbrain Help: Click ID (obclid)
    "tblci": "taboola",  # Taboola Help: Taboola click id (tblci)
    "s_kwcid": "adobe",  # Adobe Advertising Help: AMO ID (s_kwcid)
    "ef_id": "adobe",  # Adobe Advertising Help: EF ID (ef_id)
    "awc": "awin",  # AWIN Wiki: The awc parameter
    "cjevent": "cj",  # CJ Developer Portal: cjevent
    "ranMID": "rakuten",  # Rakuten Advertising: Linksynergy parameters
    "ranEAID": "rakuten",  # Rakuten Advertising: Linksynergy parameters
    "ranSiteID": "rakuten",  # Rakuten Advertising: Linksynergy parameters
    "irclid": "impact",  # impact.com Help: Click ID (irclid)
    "sscid": "shareasale",  # ShareASale: sscid click id
    "_kx": "klaviyo",  # Klaviyo Help: _kx identifies the recipient on site
    "mc_cid": "mailchimp",  # Mailchimp Help: mc_cid: the campaign id
    "mc_eid": "mailchimp",  # Mailchimp Help: mc_eid: the recipient id
    "_hsenc": "hubspot",  # HubSpot Help: Email tracking parameters
    "_hsmi": "hubspot",  # HubSpot Help: Email tracking parameters
    "mkt_tok": "marketo",  # Marketo Docs: mkt_tok
}
# Parameters that track a visit without marking it as an ad or email click: kept through
# redirects and left out of cache keys all the same.
ANALYTICS_PARAMETERS: Mapping[str, str] = {
    "_gl": "google-analytics",  # GA4 Help: Cross-domain measurement (_gl linker)
    "_ga": "google-analytics",  # GA4 Help: the older linker parameter
    "srsltid": "merchant-center",  # Merchant Center Help: Auto-tagging of free listings
    "igshid": "instagram",  # Instagram: share links of posts and profiles
}
# UTM parameters GA4 reads (GA4 Help: "URL builders: collect campaign data with custom URLs");
# any other utm_* counts too.
UTM_PARAMETERS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_source_platform",
    "utm_creative_format",
    "utm_marketing_tactic",
)
UTM_PREFIX = "utm_"

TRACKING_PARAMETERS: frozenset[str] = frozenset(
    [*CLICK_ID_PLATFORMS, *ANALYTICS_PARAMETERS, *UTM_PARAMETERS]
)
_FOLDED = frozenset(name.lower() for name in TRACKING_PARAMETERS)
# shopwindow's own parameters (the dev preview switch): never carried to the next page.
OWN_PREFIX = "sw_"


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter tracks the visit (a click id, a utm_*, a linker id)."""
    return name in TRACKING_PARAMETERS or name.lower() in _FOLDED or name.startswith(UTM_PREFIX)


def is_click_id(name: str) -> bool:
    """Whether a parameter marks the visit as an ad, email or affiliate click."""
    return name in CLICK_ID_PLATFORMS


def carried_query(query_string: str) -> str:
    """The visitor's query string as a redirect carries it: all of it, minus `sw_*`.

    Parameters are kept byte for byte (their encoding is the tracker's business),
    listed or not, in the order sent.
    """
    if not query_string or OWN_PREFIX not in query_string:
        return query_string
    kept = [part for part in query_string.split("&") if part and not part.startswith(OWN_PREFIX)]
    return "&".join(kept)


def with_query(target: str, query_string: str) -> str:
    """A redirect target with the visitor's query carried through.

    The target may add parameters of its own; a visitor's parameter the target
    also names keeps the visitor's value (a click id is never replaced).
    """
    carried = carried_query(query_string)
    if not carried:
        return target
    path, sep, fragment = target.partition("#")
    base, has_query, own = path.partition("?")
    if has_query and own:
        visitor_names = {name for name, _ in parse_qsl(carried, keep_blank_values=True)}
        extra = [
            (name, value)
            for name, value in parse_qsl(own, keep_blank_values=True)
            if name not in visitor_names
        ]
        query = carried + ("&" + urlencode(extra) if extra else "")
    else:
        query = carried
    return f"{base}?{query}" + (sep + fragment if sep else "")


def split_query(query: bytes) -> tuple[bytes, list[str]]:
    """The query without its tracking parameters (order kept), and the values those carried:
    what the origin proxy's shared cache keys on, and what it must never hand to another."""
    if not query:
        return query, []
    kept: list[bytes] = []
    values: list[str] = []
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if is_tracking_parameter(unquote_plus(name.decode("latin-1"))):
            if value:
                values.append(unquote_plus(value.decode("latin-1")))
            continue
        kept.append(part)
    if not values and len(kept) == query.count(b"&") + 1:
        return query, []
    return b"&".join(kept), values
