"""Which query parameters only track a click or a campaign and never change the page shown."""

from __future__ import annotations

from urllib.parse import unquote_plus

# Click ids that ad networks, e-mail tools and affiliate platforms append to a
# shop's URLs, and campaign tags. The page an origin sends for `/shoes?gclid=a` is
# the one it sends for `/shoes`: keying a shared copy on them would keep one copy
# per click. Names compare exactly (query parameter names are case-sensitive);
# `utm_` is matched as a prefix.
TRACKING_PARAMETERS = frozenset(
    {
        # Google Ads, Analytics and Display & Video 360
        "gclid",
        "gclsrc",
        "gbraid",
        "wbraid",
        "dclid",
        "gad_source",
        "gad_campaignid",
        "_gl",
        "srsltid",
        # Microsoft Advertising
        "msclkid",
        # Meta (Facebook, Instagram)
        "fbclid",
        "igshid",
        "igsh",
        # TikTok, X (Twitter), LinkedIn, Snapchat, Pinterest, Reddit, Yandex
        "ttclid",
        "twclid",
        "li_fat_id",
        "ScCid",
        "epik",
        "rdt_cid",
        "yclid",
        "ysclid",
        # Affiliate networks (Awin, Impact, Rakuten, CJ, Partnerize)
        "awc",
        "irclid",
        "irgwc",
        "ranMID",
        "ranEAID",
        "ranSiteID",
        "cjevent",
        "clickref",
        # E-mail and marketing automation (Mailchimp, Klaviyo, HubSpot, Marketo, Adobe)
        "mc_cid",
        "mc_eid",
        "_kx",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "s_cid",
        # Other analytics campaign tags
        "_ga",
        "pk_campaign",
        "pk_kwd",
        "mtm_campaign",
        "mtm_kwd",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
    }
)
TRACKING_PREFIXES = ("utm_",)


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter (as it is spelled in the URL) only tracks, such as `gclid` or `utm_source`."""
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def split_query(query: bytes) -> tuple[bytes, list[str]]:
    """The query without its tracking parameters (order kept), and the values those carried."""
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
