"""Where the visitor came from: campaign parameters, ad click ids and the referrer."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus, urlsplit

from shopwindow.rules.vocabulary import CHANNELS
from shopwindow.visitor.tracking import CLICK_ID_PLATFORMS, UTM_PARAMETERS

PAID_SEARCH, PAID_SOCIAL, SOCIAL, EMAIL, SEARCH, REFERRAL, DIRECT = CHANNELS

# Ad platforms append their click id to the landing URL. The first one present wins,
# in this order: the ones only ads carry before fbclid, which Facebook appends to
# every outbound link, organic posts included; then email and affiliate click ids
# (visitor/tracking.py lists them all, with where each platform documents its own).
_FIRST_CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "msclkid", "ttclid")
_IN_ORDER = [p for p in dict.fromkeys([*_FIRST_CLICK_IDS, *CLICK_ID_PLATFORMS]) if p != "fbclid"]
CLICK_IDS: tuple[tuple[str, str], ...] = tuple(
    (param, CLICK_ID_PLATFORMS[param]) for param in [*_IN_ORDER, "fbclid"]
)
_UTM_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "utm_source"),
    ("medium", "utm_medium"),
    ("name", "utm_campaign"),
    ("term", "utm_term"),
    ("content", "utm_content"),
)
# Any of these marks a visit as an ad, email or affiliate click (utm_id and GA4's newer
# utm_* too, even without a source or campaign name).
CAMPAIGN_PARAMS: frozenset[str] = frozenset([*UTM_PARAMETERS, *(param for param, _ in CLICK_IDS)])
# Click ids of social networks, search engines and email tools beyond the big four.
_SOCIAL_CLICKS = frozenset({"x", "linkedin", "snapchat", "pinterest", "reddit"})
_SEARCH_CLICKS = frozenset({"yandex"})
_EMAIL_CLICKS = frozenset({"klaviyo", "mailchimp", "hubspot", "marketo"})

# Enough for any real keyword or campaign name; a longer value is cut, not refused.
MAX_CAMPAIGN_VALUE_CHARS = 200
_MAX_REFERRER_CHARS = 2048


@dataclass(frozen=True, slots=True)
class Campaign:
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    term: str | None = None
    content: str | None = None
    click_id: str | None = None
    tagged: bool = False  # a utm_* without a value shopwindow reads (utm_id, ...)
    click_kind: str | None = (
        None  # the platform: "google", "meta", "awin", ... (visitor/tracking.py)
    )

    @property
    def present(self) -> bool:
        """Whether the URL carried any utm_* parameter or ad click id."""
        return (
            self.tagged
            or self.source is not None
            or self.medium is not None
            or self.name is not None
            or self.term is not None
            or self.content is not None
            or self.click_id is not None
        )


NO_CAMPAIGN = Campaign()


# A %-escape left in a value the server already decoded once: the link was encoded twice.
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    if "%" in value and _ESCAPED.search(value):
        # Trackers and email link wrappers encode a link again ("red%2520shoes"): a value
        # is decoded a second time, never a third (what is left after that is text).
        value = unquote_plus(value)
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_CAMPAIGN_VALUE_CHARS:
        value = value[:MAX_CAMPAIGN_VALUE_CHARS].rstrip()
    return value


def campaign_of(query: Mapping[str, str]) -> Campaign:
    """The campaign named by a landing URL's query parameters; NO_CAMPAIGN without any."""
    try:
        if CAMPAIGN_PARAMS.isdisjoint(query):
            return NO_CAMPAIGN  # most requests: skip reading twelve parameters
        fields = {field: _clean(query.get(param)) for field, param in _UTM_FIELDS}
        click_id = click_kind = None
        for param, kind in CLICK_IDS:
            click_id = _clean(query.get(param))
            if click_id is not None:
                click_kind = kind
                break
    except Exception:
        # A query object that cannot be read is a visitor without a campaign, not a 500.
        return NO_CAMPAIGN
    if click_id is None and not any(fields.values()):
        if not any(_clean(query.get(param)) for param in UTM_PARAMETERS):
            return NO_CAMPAIGN
        return Campaign(tagged=True)
    return Campaign(
        fields["source"],
        fields["medium"],
        fields["name"],
        fields["term"],
        fields["content"],
        click_id=click_id,
        click_kind=click_kind,
    )


# utm_medium values that mean money was paid for the click (GA4's paid pattern, plus "sem").
_PAID_MEDIUM = re.compile(r"^(?:.*cp.*|ppc|sem|retargeting|paid.*)$")
_SOCIAL_MEDIUM = re.compile(
    r"^(?:social|sm|social[-_ ]?(?:media|network)|organic[-_ ]?social|social[-_ ]?organic)$"
)
_EMAIL = re.compile(r"e[-_ ]?mail|newsletter|mailchimp|klaviyo|sendinblue|brevo|mailjet")

# utm_source names, compared after the first token ("facebook_ads" -> "facebook").
_SOCIAL_SOURCES = frozenset(
    {
        "facebook", "fb", "instagram", "ig", "meta", "messenger", "tiktok", "pinterest",
        "snapchat", "twitter", "x", "linkedin", "youtube", "reddit", "vk", "threads",
        "tumblr", "whatsapp", "telegram", "bluesky", "xing", "weibo", "wechat", "line",
    }
)  # fmt: skip
_SEARCH_SOURCES = frozenset(
    {
        "google", "adwords", "bing", "microsoft", "yahoo", "duckduckgo", "ddg", "yandex",
        "baidu", "ecosia", "naver", "seznam", "qwant", "startpage", "brave", "sogou",
        "ask", "aol", "daum", "yahoojp",
    }
)  # fmt: skip
_SOURCE_TOKEN = re.compile(r"[a-z0-9]+")

# Referring hosts, matched with their subdomains. Webmail comes first: mail.yahoo.com
# is email, search.yahoo.com is search.
_EMAIL_HOSTS = (
    "mail.google.com", "com.google.android.gm", "outlook.live.com", "outlook.office.com",
    "outlook.office365.com", "mail.yahoo.com", "mail.aol.com", "mail.proton.me",
    "mail.yandex.ru", "mail.ru", "gmx.net", "web.de",
)  # fmt: skip
_SEARCH_HOSTS = (
    "bing.com", "duckduckgo.com", "ecosia.org", "baidu.com", "naver.com", "seznam.cz",
    "qwant.com", "startpage.com", "search.brave.com", "sogou.com", "so.com", "ask.com",
    "search.aol.com", "daum.net", "coccoc.com", "ya.ru",
    "com.google.android.googlequicksearchbox",
)  # fmt: skip
_SOCIAL_HOSTS = (
    "facebook.com", "fb.com", "fb.me", "messenger.com", "instagram.com", "t.co",
    "twitter.com", "x.com", "tiktok.com", "pin.it", "reddit.com", "linkedin.com",
    "lnkd.in", "youtube.com", "youtu.be", "vk.com", "threads.net", "snapchat.com",
    "tumblr.com", "bsky.app", "t.me", "weibo.com", "ok.ru", "xing.com", "quora.com",
    "com.facebook.katana", "com.instagram.android", "com.twitter.android",
    "com.linkedin.android", "com.pinterest", "com.zhiliaoapp.musically",
)  # fmt: skip
# Engines with a domain per country (google.de, google.co.uk, yandex.com.tr, ...): the
# search pages only, so docs.google.com or maps.google.com stay referrals.
_TLD = r"(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})"
_SEARCH_HOST = re.compile(
    rf"^(?:(?:www|m|images|news)\.)?google\.{_TLD}$"
    rf"|^(?:www\.)?yandex\.{_TLD}$"
    rf"|^(?:[a-z]{{2}}\.)?search\.yahoo\.{_TLD}$"
)
_SOCIAL_HOST = re.compile(rf"^(?:[a-z]{{2,3}}\.|www\.)?pinterest\.{_TLD}$")
# Characters no host has; internationalised hosts (bücher.de) pass.
_BAD_HOST_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"'`{}|\\^/?#@%]")


def _under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


@lru_cache(maxsize=4096)
def _host_channel(host: str) -> str | None:
    """The channel a referring host implies: email, search, social, or None (referral)."""
    if _under(host, _EMAIL_HOSTS):
        return EMAIL
    if _SEARCH_HOST.match(host) or _under(host, _SEARCH_HOSTS):
        return SEARCH
    if _SOCIAL_HOST.match(host) or _under(host, _SOCIAL_HOSTS):
        return SOCIAL
    return None


@lru_cache(maxsize=1024)
def _source_kind(source: str) -> str | None:
    """ "social" or "search" for a utm_source such as "Facebook_Ads" or "www.google.de"."""
    if "." in source:
        implied = _host_channel(source.removeprefix("www."))
        if implied is not None:
            return implied
    token = _SOURCE_TOKEN.match(source)
    first = token.group(0) if token else source
    if source in _SOCIAL_SOURCES or first in _SOCIAL_SOURCES:
        return SOCIAL
    if source in _SEARCH_SOURCES or first in _SEARCH_SOURCES:
        return SEARCH
    if _EMAIL.search(source):
        return EMAIL
    return None


def referrer_host(referrer: str | None) -> str | None:
    """The lower-case host of a Referer URL, without port or trailing dot; None if unusable."""
    if not referrer or not isinstance(referrer, str) or len(referrer) > _MAX_REFERRER_CHARS:
        return None
    return _referrer_host(referrer)


@lru_cache(maxsize=4096)
def _referrer_host(referrer: str) -> str | None:
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    if not host or _BAD_HOST_CHARS.search(host):
        return None
    return host


def _is_own(host: str, own_hosts: Collection[str]) -> bool:
    for own in own_hosts:
        own = own.lower().rstrip(".")
        if own.count(":") == 1:
            own = own.partition(":")[0]  # "shop.example:8000"
        if host == own or host.endswith("." + own):
            return True
        # A shop listed as www.example.com also owns example.com's links.
        if own.startswith("www.") and host == own[4:]:
            return True
    return False


def channel_of(campaign: Campaign, referrer: str | None, own_hosts: Collection[str]) -> str:
    """One of CHANNELS, read from the campaign first and the referrer after.

    Campaign tagging is the advertiser's own statement and wins over the
    referrer, which browsers often strip. Paid clicks that name no social network
    count as paid search: there is no display channel, and "cpc" mostly means search.
    """
    if campaign is NO_CAMPAIGN and not referrer:
        return DIRECT  # no tagging and no referrer: most returning visitors' requests
    medium = (campaign.medium or "").lower()
    source = (campaign.source or "").lower()
    source_kind = _source_kind(source) if source else None

    if medium and _PAID_MEDIUM.match(medium):
        if source_kind == SOCIAL or "social" in medium:
            return PAID_SOCIAL
        return PAID_SEARCH
    kind = campaign.click_kind
    if kind in ("google", "microsoft"):
        return PAID_SEARCH
    if kind == "tiktok" or kind in _SOCIAL_CLICKS:
        return PAID_SOCIAL
    if kind in _SEARCH_CLICKS:
        return PAID_SEARCH
    if medium:
        if _SOCIAL_MEDIUM.match(medium):
            return SOCIAL
        if _EMAIL.search(medium):
            return EMAIL
    if source_kind == EMAIL or kind in _EMAIL_CLICKS:
        return EMAIL
    if kind == "meta":
        return PAID_SOCIAL
    if source_kind == SOCIAL:
        return SOCIAL
    if source_kind == SEARCH and medium in ("", "organic", "search", "seo"):
        return SEARCH

    host = referrer_host(referrer)
    own = host is not None and _is_own(host, own_hosts)
    if host is not None and not own:
        implied = _host_channel(host)
        if implied is not None:
            return implied
    if campaign.present:
        # Tagged but unrecognised (affiliate, partner, display, qr, ...): a referral
        # from whoever placed the link.
        return REFERRAL
    if host is not None and not own:
        return REFERRAL
    return DIRECT
