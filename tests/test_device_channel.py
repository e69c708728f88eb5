"""Device, language, campaign and channel of a visitor, pinned by real-world examples."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.visitor.channel import (
    CAMPAIGN_PARAMS,
    CHANNELS,
    MAX_CAMPAIGN_VALUE_CHARS,
    NO_CAMPAIGN,
    Campaign,
    campaign_of,
    channel_of,
    referrer_host,
)
from shopwindow.visitor.device import DEVICES, device_of, language_of
from shopwindow.visitor.tracking import CLICK_ID_PLATFORMS, UTM_PARAMETERS

# --- device ----------------------------------------------------------------------------

USER_AGENTS: list[tuple[str, str]] = [
    # desktop browsers
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "desktop",
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
        "desktop",
    ),
    # headless browsers and HTTP clients: our tests, monitors and prerenderers
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/156.0.0.0 Safari/537.36",
        "desktop",
    ),
    ("python-httpx/0.27.0", "desktop"),
    ("python-requests/2.32.3", "desktop"),
    ("curl/8.5.0", "desktop"),
    ("Wget/1.21.3", "desktop"),
    ("Go-http-client/1.1", "desktop"),
    ("", "desktop"),
    (" ", "desktop"),
    # phones
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        "mobile",
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "mobile"),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/21E219 [FBAN/FBIOS;FBAV/458.0.0.37.95;FBBV/590000000;"
        "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/de_DE;FBOP/5]",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 "
        "Instagram 329.0.0.40.120 Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "mobile",
    ),
    ("Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en)", "mobile"),
    (
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 "
        "Edge/15.15063",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) KAIOS/2.5",
        "mobile",
    ),
    # tablets
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "tablet",
    ),
    ("Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0", "tablet"),
    (
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/124.2.1 like Chrome/124.0.6367.118 Safari/537.36",
        "tablet",
    ),
    # iPadOS asks for the desktop site with a Mac User-Agent: indistinguishable.
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "desktop",
    ),
    # televisions and consoles
    (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "76.0.3809.146/6.0 TV Safari/537.36",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; BRAVIA 4K UR2 Build/PTT1.190515.001.S52) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edge/44.18363.8131",
        "desktop",
    ),
    # crawlers and link-preview fetchers
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "bot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "bot",
    ),
    ("AdsBot-Google (+http://www.google.com/adsbot.html)", "bot"),
    ("Mediapartners-Google", "bot"),
    (
        "Mozilla/5.0 (X11; Linux x86_64; Storebot-Google/1.0) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/79.0.3945.88 Safari/537.36",
        "bot",
    ),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot"),
    (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "bot",
    ),
    ("Twitterbot/1.0", "bot"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "bot"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "bot"),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "bot"),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "bot"),
    (
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "bot",
    ),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "bot"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 "
        "(Applebot/0.1; +http://www.apple.com/go/applebot)",
        "bot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; "
        "+https://openai.com/gptbot)",
        "bot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "bot",
    ),
    ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", "bot"),
    (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "bot",
    ),
    ("Pinterest/0.2 (+https://www.pinterest.com/bot.html)", "bot"),
    ("WhatsApp/2.23.20.0 A", "bot"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "bot"),
    ("TelegramBot (like TwitterBot)", "bot"),
    (
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "bot",
    ),
    ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "bot"),
    ("Screaming Frog SEO Spider/19.8", "bot"),
    ("Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)", "bot"),
    ("Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)", "bot"),
    ("CCBot/2.0 (https://commoncrawl.org/faq/)", "bot"),
]


@pytest.mark.parametrize(("user_agent", "device"), USER_AGENTS)
def test_device_of(user_agent: str, device: str) -> None:
    assert device_of(user_agent) == device


def test_device_of_none_is_desktop() -> None:
    assert device_of(None) == "desktop"


def test_device_of_huge_user_agent_is_cut_before_caching() -> None:
    huge = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile" + "x" * 100_000
    assert device_of(huge) == "mobile"
    # A crawler token hidden past the cut is not read: a real crawler names itself early.
    assert device_of("Mozilla/5.0 (Windows NT 10.0)" + " " * 1000 + "Googlebot") == "desktop"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=600))
def test_device_of_never_raises(user_agent: str) -> None:
    assert device_of(user_agent) in DEVICES


# --- language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en-US,en;q=0.9", "en"),
        ("fr", "fr"),
        ("FR-fr", "fr"),
        ("en_GB", "en"),
        ("zh-Hant-TW,zh;q=0.8", "zh"),
        ("en;q=0.5, de;q=0.9", "de"),  # highest q, not first
        ("en;q=0.8, de;q=0.8", "en"),  # ties: the first listed
        ("  nl-BE ;  q = 0.7 , fr;q=0.3", "nl"),
        ("de;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        ("de;q=0", None),
        ("*", None),
        ("*, it;q=0.5", "it"),
        ("fil-PH, tl;q=0.5", "tl"),  # three-letter codes are not two-letter languages
        ("x-klingon, i-navajo", None),
        ("de;q=2, en;q=0.3", "en"),
        ("de;q=abc, en;q=0.3", "en"),
        ("de;level=1, en;q=0.3", "en"),
        ("", None),
        (",,,", None),
        ("12", None),
        ("ä-ö", None),
        ("\x00\x01", None),
        ("de-" + "x" * 5000, None),
        ("en-US," + "de;q=0.1," * 1000, "en"),
    ],
)
def test_language_of(header: str, language: str | None) -> None:
    assert language_of(header) == language


def test_language_of_none() -> None:
    assert language_of(None) is None


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=600))
def test_language_of_never_raises(header: str) -> None:
    language = language_of(header)
    assert language is None or (len(language) == 2 and language.isalpha() and language.islower())


# --- campaign --------------------------------------------------------------------------


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_campaign_of_reads_utm_and_click_id() -> None:
    campaign = campaign_of(
        query(
            "https://shop.example/lp/running?utm_source=google&utm_medium=cpc"
            "&utm_campaign=Spring%20Running&utm_term=women%27s+running+shoes"
            "&utm_content=ad-b&gclid=EAIaIQobChMI8"
        )
    )
    assert campaign == Campaign(
        source="google",
        medium="cpc",
        name="Spring Running",
        term="women's running shoes",
        content="ad-b",
        click_id="EAIaIQobChMI8",
        click_kind="google",
    )
    assert campaign.present


@pytest.mark.parametrize(
    ("param", "kind"),
    [
        ("gclid", "google"),
        ("gbraid", "google"),
        ("wbraid", "google"),
        ("dclid", "google"),
        ("fbclid", "meta"),
        ("msclkid", "microsoft"),
        ("ttclid", "tiktok"),
    ],
)
def test_click_kinds(param: str, kind: str) -> None:
    campaign = campaign_of({param: " abc123 "})
    assert (campaign.click_id, campaign.click_kind, campaign.present) == ("abc123", kind, True)


def test_ad_only_click_ids_win_over_fbclid() -> None:
    campaign = campaign_of({"fbclid": "fb1", "gclid": "g1"})
    assert (campaign.click_id, campaign.click_kind) == ("g1", "google")


def test_campaign_values_are_cleaned() -> None:
    campaign = campaign_of(
        {"utm_source": "  ", "utm_medium": "", "utm_campaign": "x" * 5000, "gclid": "\t"}
    )
    assert campaign.source is None
    assert campaign.medium is None
    assert campaign.name == "x" * MAX_CAMPAIGN_VALUE_CHARS
    assert campaign.click_id is None and campaign.click_kind is None
    assert campaign.present


def test_no_campaign() -> None:
    assert campaign_of({}) is NO_CAMPAIGN
    assert campaign_of({"q": "shoes", "page": "2", "utm_source": ""}) is NO_CAMPAIGN
    assert not NO_CAMPAIGN.present


def test_campaign_params() -> None:
    assert {"utm_source", "utm_term", "gclid", "fbclid", "msclkid", "ttclid"} <= CAMPAIGN_PARAMS
    assert {"gbraid", "wbraid", "dclid", "utm_medium", "utm_campaign", "utm_content"} <= (
        CAMPAIGN_PARAMS
    )
    # Every listed click id and utm_* parameter marks an ad click; linker ids (_gl) do not.
    assert set(UTM_PARAMETERS) | set(CLICK_ID_PLATFORMS) == CAMPAIGN_PARAMS
    assert "_gl" not in CAMPAIGN_PARAMS and "srsltid" not in CAMPAIGN_PARAMS


def test_campaign_of_unreadable_query() -> None:
    class Broken(dict[str, str]):
        def get(self, key: object, default: object = None) -> str:
            raise RuntimeError("broken")

    assert campaign_of(Broken({"utm_source": "google"})) is NO_CAMPAIGN
    assert campaign_of({"utm_source": 42}) is NO_CAMPAIGN  # type: ignore[dict-item]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(sorted(CAMPAIGN_PARAMS)), st.text(max_size=10)),
        st.text(max_size=300),
    )
)
def test_campaign_of_never_raises(params: dict[str, str]) -> None:
    campaign = campaign_of(params)
    for value in (campaign.source, campaign.term, campaign.click_id):
        assert value is None or (0 < len(value) <= MAX_CAMPAIGN_VALUE_CHARS)
    assert campaign.present == any(
        value.strip() for key, value in params.items() if key in CAMPAIGN_PARAMS
    )


# --- referrer and channel ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://www.google.com/", "www.google.com"),
        ("https://WWW.Google.DE:443/search?q=x", "www.google.de"),
        ("https://www.google.com./", "www.google.com"),
        ("http://user:pass@example.com/page", "example.com"),
        ("http://[2001:db8::1]:8080/", "2001:db8::1"),
        (
            "android-app://com.google.android.googlequicksearchbox/",
            "com.google.android.googlequicksearchbox",
        ),
        ("https://bücher.de/", "bücher.de"),
        ("www.google.com/search", None),  # not absolute
        ("http://[invalid/", None),
        ("http://", None),
        ("", None),
        (None, None),
        ("http://exa mple.com/", None),
        ("https://" + "a" * 5000 + ".com/", None),
        ("javascript:alert(1)", None),
        ("\x00", None),
    ],
)
def test_referrer_host(referrer: str | None, host: str | None) -> None:
    assert referrer_host(referrer) == host


OWN = frozenset({"shop.example", "www.shop.example"})

# (landing URL, Referer, expected channel): real ad URLs and referrers.
ARRIVALS: list[tuple[str, str | None, str]] = [
    # paid search
    (
        "https://www.shop.example/lp/womens-running-shoes?gclid=Cj0KCQjw&utm_source=google"
        "&utm_medium=cpc&utm_campaign=running&utm_term=womens%20running%20shoes",
        "https://www.google.com/",
        "paid_search",
    ),
    ("https://www.shop.example/?gclid=Cj0KCQjw", "https://www.google.de/", "paid_search"),
    ("https://www.shop.example/?gclid=Cj0KCQjw", None, "paid_search"),
    ("https://www.shop.example/?gbraid=0AAAAADd", None, "paid_search"),
    ("https://www.shop.example/?wbraid=CjkKCQjw", None, "paid_search"),
    ("https://www.shop.example/?msclkid=3f1d9b", "https://www.bing.com/", "paid_search"),
    (
        "https://www.shop.example/?utm_source=bing&utm_medium=cpc&utm_campaign=brand",
        "https://www.bing.com/",
        "paid_search",
    ),
    ("https://www.shop.example/?utm_source=google&utm_medium=ppc", None, "paid_search"),
    ("https://www.shop.example/?utm_source=Google_Ads&utm_medium=paidsearch", None, "paid_search"),
    ("https://www.shop.example/?utm_source=google&utm_medium=sem", None, "paid_search"),
    ("https://www.shop.example/?utm_source=criteo&utm_medium=cpm", None, "paid_search"),
    # paid social
    ("https://www.shop.example/?fbclid=IwAR2xyz", "https://l.facebook.com/", "paid_social"),
    ("https://www.shop.example/?fbclid=IwAR2xyz", None, "paid_social"),
    ("https://www.shop.example/?ttclid=E.C.P.abc", "https://www.tiktok.com/", "paid_social"),
    (
        "https://www.shop.example/?utm_source=facebook&utm_medium=paid&utm_campaign=drop17"
        "&fbclid=IwAR2",
        "https://m.facebook.com/",
        "paid_social",
    ),
    ("https://www.shop.example/?utm_source=instagram&utm_medium=cpc", None, "paid_social"),
    ("https://www.shop.example/?utm_source=ig&utm_medium=paid_social", None, "paid_social"),
    ("https://www.shop.example/?utm_source=meta&utm_medium=paid", None, "paid_social"),
    ("https://www.shop.example/?utm_source=tiktok&utm_medium=cpc", None, "paid_social"),
    ("https://www.shop.example/?utm_source=pinterest&utm_medium=paid", None, "paid_social"),
    ("https://www.shop.example/?utm_source=snapchat&utm_medium=paid", None, "paid_social"),
    ("https://www.shop.example/?utm_source=x&utm_medium=cpc", None, "paid_social"),
    ("https://www.shop.example/?utm_source=linkedin&utm_medium=cpc", None, "paid_social"),
    ("https://www.shop.example/?utm_source=partner&utm_medium=paid_social", None, "paid_social"),
    # organic social
    ("https://www.shop.example/?utm_source=instagram&utm_medium=social", None, "social"),
    ("https://www.shop.example/?utm_source=ig&utm_medium=social-media", None, "social"),
    ("https://www.shop.example/?utm_source=whatever&utm_medium=organic_social", None, "social"),
    ("https://www.shop.example/?utm_source=tiktok", None, "social"),
    ("https://www.shop.example/?utm_source=facebook.com", None, "social"),
    # an organic post tagged as such, with the fbclid Facebook adds to every link
    (
        "https://www.shop.example/?utm_source=facebook&utm_medium=social&fbclid=IwAR2",
        "https://l.facebook.com/",
        "social",
    ),
    ("https://www.shop.example/", "https://l.facebook.com/", "social"),
    ("https://www.shop.example/", "https://lm.facebook.com/l.php?u=x", "social"),
    ("https://www.shop.example/", "https://www.instagram.com/", "social"),
    ("https://www.shop.example/", "https://t.co/AbCdEf", "social"),
    ("https://www.shop.example/", "https://x.com/", "social"),
    ("https://www.shop.example/", "https://www.tiktok.com/", "social"),
    ("https://www.shop.example/", "https://www.pinterest.de/", "social"),
    ("https://www.shop.example/", "https://pinterest.co.uk/pin/1", "social"),
    ("https://www.shop.example/", "https://out.reddit.com/t3_abc", "social"),
    ("https://www.shop.example/", "https://www.linkedin.com/", "social"),
    ("https://www.shop.example/", "https://www.youtube.com/", "social"),
    ("https://www.shop.example/", "https://vk.com/away.php", "social"),
    ("https://www.shop.example/", "android-app://com.facebook.katana/", "social"),
    # email
    ("https://www.shop.example/?utm_source=newsletter&utm_medium=email", None, "email"),
    ("https://www.shop.example/?utm_source=klaviyo&utm_medium=E-Mail", None, "email"),
    ("https://www.shop.example/?utm_source=newsletter", None, "email"),
    ("https://www.shop.example/?utm_medium=newsletter&utm_campaign=may", None, "email"),
    ("https://www.shop.example/?utm_source=mailchimp&utm_campaign=may", None, "email"),
    ("https://www.shop.example/", "https://mail.google.com/", "email"),
    ("https://www.shop.example/", "https://outlook.live.com/mail/0/", "email"),
    ("https://www.shop.example/", "https://mail.yahoo.com/", "email"),
    # organic search
    ("https://www.shop.example/", "https://www.google.com/", "search"),
    ("https://www.shop.example/", "https://www.google.co.uk/", "search"),
    ("https://www.shop.example/", "https://www.google.com.au/", "search"),
    ("https://www.shop.example/", "https://google.de/", "search"),
    ("https://www.shop.example/", "https://www.bing.com/search?q=shoes", "search"),
    ("https://www.shop.example/", "https://cn.bing.com/", "search"),
    ("https://www.shop.example/", "https://duckduckgo.com/", "search"),
    ("https://www.shop.example/", "https://de.search.yahoo.com/", "search"),
    ("https://www.shop.example/", "https://yandex.ru/", "search"),
    ("https://www.shop.example/", "https://www.baidu.com/link?url=x", "search"),
    ("https://www.shop.example/", "https://www.ecosia.org/", "search"),
    ("https://www.shop.example/", "https://search.naver.com/", "search"),
    ("https://www.shop.example/", "https://search.brave.com/", "search"),
    (
        "https://www.shop.example/",
        "android-app://com.google.android.googlequicksearchbox/",
        "search",
    ),
    ("https://www.shop.example/?utm_source=google&utm_medium=organic", None, "search"),
    # referral
    ("https://www.shop.example/", "https://blog.example.org/best-running-shoes", "referral"),
    ("https://www.shop.example/", "https://docs.google.com/document/d/1", "referral"),
    ("https://www.shop.example/", "https://www.google.evil.example/", "referral"),
    ("https://www.shop.example/", "https://notfacebook.com/", "referral"),
    ("https://www.shop.example/", "https://fakex.com/", "referral"),
    ("https://www.shop.example/", "https://shop.example.attacker.org/", "referral"),
    ("https://www.shop.example/?utm_source=partnerblog&utm_medium=affiliate", None, "referral"),
    ("https://www.shop.example/?utm_campaign=spring", None, "referral"),
    ("https://www.shop.example/?utm_source=qr&utm_medium=print", None, "referral"),
    # direct, internal navigation included
    ("https://www.shop.example/", None, "direct"),
    ("https://www.shop.example/", "", "direct"),
    ("https://www.shop.example/", "https://www.shop.example/women/", "direct"),
    ("https://www.shop.example/", "https://shop.example/", "direct"),
    ("https://www.shop.example/", "https://checkout.shop.example/", "direct"),
    ("https://www.shop.example/", "garbage", "direct"),
    ("https://www.shop.example/", "http://[::1", "direct"),
    ("https://www.shop.example/?q=shoes&page=2", None, "direct"),
]


@pytest.mark.parametrize(("url", "referrer", "channel"), ARRIVALS)
def test_channel_of(url: str, referrer: str | None, channel: str) -> None:
    assert channel_of(campaign_of(query(url)), referrer, OWN) == channel


def test_own_hosts_with_ports_and_upper_case() -> None:
    own = ["Shop.Example:8000"]
    assert channel_of(NO_CAMPAIGN, "http://shop.example:8000/women/", own) == "direct"
    assert channel_of(NO_CAMPAIGN, "http://shop.example:8000/women/", []) == "referral"


def test_channels_are_the_documented_ones() -> None:
    assert set(CHANNELS) == {
        "paid_search",
        "paid_social",
        "social",
        "email",
        "search",
        "referral",
        "direct",
    }


@settings(max_examples=500, deadline=None)
@given(
    source=st.one_of(st.none(), st.text(max_size=40)),
    medium=st.one_of(st.none(), st.text(max_size=40)),
    kind=st.sampled_from([None, "google", "meta", "microsoft", "tiktok"]),
    referrer=st.one_of(st.none(), st.text(max_size=200), st.from_regex(r"https?://[^/]{0,30}/?")),
    own=st.lists(st.text(max_size=20), max_size=3),
)
def test_channel_of_never_raises(
    source: str | None, medium: str | None, kind: str | None, referrer: str | None, own: list[str]
) -> None:
    campaign = Campaign(
        source=source,
        medium=medium,
        name=None,
        term=None,
        content=None,
        click_id=None if kind is None else "id",
        click_kind=kind,
    )
    assert channel_of(campaign, referrer, own) in CHANNELS
    host = referrer_host(referrer)
    assert host is None or (host and host == host.lower())
