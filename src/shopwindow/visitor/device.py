"""The visitor's device class from the User-Agent, and language from Accept-Language."""

from __future__ import annotations

import re
from functools import lru_cache

from shopwindow.rules.vocabulary import DEVICES

DESKTOP, MOBILE, TABLET, BOT = DEVICES

# Crawlers name themselves: "...bot", "...spider", "...crawler", a "+https://" contact
# URL, or a known fetcher name. "Cubot" is a phone maker, hence the look-behind.
# Deliberately absent: HTTP client libraries (curl, Wget, python-requests,
# python-httpx, Go-http-client, okhttp) and HeadlessChrome, which is how our own
# tests, health checks and prerenderers call us; and in-app browsers (FBAN/FBAV,
# Instagram, Snapchat, TikTok's BytedanceWebview), which are real shoppers.
_BOT = re.compile(
    r"(?<!cu)bots?(?:\b|_)"
    r"|spider|crawl|slurp|archiver|scrapy|\+https?://"
    r"|facebookexternalhit|facebookcatalog|meta-external"
    r"|mediapartners-google|adsbot|storebot|feedfetcher|google-inspectiontool"
    r"|googleother|google-read-aloud|google web preview|apis-google|bingpreview"
    r"|chrome-lighthouse|pagespeed|gtmetrix|pingdom|uptime|statuscake"
    r"|embedly|iframely|quora link preview|^whatsapp/|chatgpt-user|claude-web|anthropic-ai"
    r"|perplexity|cohere-ai|yeti/|qwantify",
    re.IGNORECASE,
)

# iPadOS 13+ Safari asks for the desktop site with a Macintosh User-Agent: it is
# indistinguishable from a Mac here and counts as desktop.
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
# Big screens run Android or Tizen without "Mobile" and would pass for tablets.
_TELEVISION = re.compile(
    r"smart-?tv|hbbtv|google ?tv|android ?tv|\btv\b|bravia|\baft[a-z]{1,4}\b|crkey|web0s"
    r"|appletv|tizen|playstation|xbox|nintendo",
    re.IGNORECASE,
)
_ANDROID = re.compile(r"android", re.IGNORECASE)
_MOBILE = re.compile(
    r"mobi|iphone|ipod|windows phone|iemobile|blackberry|\bbb10\b|opera mini|webos|kaios",
    re.IGNORECASE,
)

# Classifying needs only the User-Agent's head; a longer one is cut before it becomes
# a cache key, so a flood of huge headers cannot hold much memory.
_MAX_USER_AGENT_CHARS = 512


@lru_cache(maxsize=4096)
def _classify(user_agent: str) -> str:
    if _BOT.search(user_agent):
        return BOT
    if _TELEVISION.search(user_agent):
        return DESKTOP
    if _TABLET.search(user_agent):
        return TABLET
    if _ANDROID.search(user_agent):
        # Google's rule for Android: phones say "Mobile", tablets do not.
        return MOBILE if _MOBILE.search(user_agent) else TABLET
    if _MOBILE.search(user_agent):
        return MOBILE
    return DESKTOP


def device_of(user_agent: str | None) -> str:
    """ "bot", "mobile", "tablet" or "desktop".

    "bot" means a crawler or link-preview fetcher that names itself (Googlebot,
    bingbot, AhrefsBot, facebookexternalhit, GPTBot, ...). Generic HTTP clients
    (curl, Wget, python-requests, python-httpx), HeadlessChrome and a missing or
    empty User-Agent are "desktop": they are tests, monitors and prerenderers
    that should see what a desktop visitor sees, and a scraper that hides behind
    them would hide behind a browser's User-Agent just as easily. iPad, Kindle,
    "Tablet" and Android without "Mobile" are "tablet"; iPhone, Android with
    "Mobile" and other phones are "mobile"; TVs and consoles are "desktop".
    """
    if not user_agent or not isinstance(user_agent, str):
        return DESKTOP
    if len(user_agent) > _MAX_USER_AGENT_CHARS:
        user_agent = user_agent[:_MAX_USER_AGENT_CHARS]
    return _classify(user_agent)


# A language range: primary subtag, optional subtags, optional parameters (q).
_LANGUAGE = re.compile(r"\s*([A-Za-z]{2})(?:[-_][A-Za-z0-9]{1,8})*\s*(;.*)?")
_QUALITY = re.compile(r";\s*q\s*=\s*([0-9.]{1,5})\s*(?:;|$)", re.IGNORECASE)
_MAX_ACCEPT_LANGUAGE_CHARS = 512
_MAX_LANGUAGES = 32


@lru_cache(maxsize=1024)
def _primary_language(accept_language: str) -> str | None:
    best: str | None = None
    best_quality = 0.0
    for entry in accept_language.split(",", _MAX_LANGUAGES)[:_MAX_LANGUAGES]:
        match = _LANGUAGE.fullmatch(entry)
        if match is None:
            continue  # "*", three-letter codes, "x-private", garbage
        quality = 1.0
        parameters = match.group(2)
        if parameters:
            found = _QUALITY.search(parameters)
            if found is None:
                continue
            try:
                quality = float(found.group(1))
            except ValueError:
                continue
            if not 0.0 <= quality <= 1.0:
                continue
        # Strictly greater: among equals the first listed wins, as the browser meant.
        if quality > best_quality:
            best, best_quality = match.group(1).lower(), quality
    return best


def language_of(accept_language: str | None) -> str | None:
    """The two-letter primary language of the most preferred Accept-Language entry.

    "de-DE,de;q=0.9,en;q=0.8" -> "de". Entries with q=0 (not acceptable), "*",
    three-letter or private-use codes are skipped; None when nothing usable is left.
    """
    if not accept_language or not isinstance(accept_language, str):
        return None
    if len(accept_language) > _MAX_ACCEPT_LANGUAGE_CHARS:
        accept_language = accept_language[:_MAX_ACCEPT_LANGUAGE_CHARS]
    return _primary_language(accept_language)
