"""Hostile text in any URL parameter of an ad click never reaches a landing page unescaped."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from shopwindow.visitor.channel import CAMPAIGN_PARAMS

# Each payload, and what of it must never appear in the answer as markup.
PAYLOADS: dict[str, tuple[str, ...]] = {
    "<script>alert(1)</script>": ("<script>alert",),
    '"><img src=x onerror=alert(1)>': ("<img src=x", "onerror="),
    "'><svg/onload=alert(1)>": ("<svg", "onload="),
    "</title><script>alert(2)</script>": ("<script>alert",),
    "womens running shoes<script>alert(3)</script>": ("<script>alert",),
    'running shoes" onmouseover="alert(4)': ('onmouseover="alert',),
    "javascript:alert(5)": ('href="javascript',),
    "<!--sw:headline--><script>alert(6)</script>": ("<script>alert", "<!--sw:"),
    "{{7*7}}{% raw %}<b>pwned</b>": ("<b>pwned",),
    "%3Cscript%3Ealert(7)%3C/script%3E": ("<script>alert",),
    "women's <b>running</b> shoes": ("<b>running",),
    "\u2028</script><script>alert(8)</script>": ("<script>alert",),
}
PARAMS = [*sorted(CAMPAIGN_PARAMS), "sw_country", "utm_id", "ref"]


def assert_clean(body: str, payload: str) -> None:
    for forbidden in PAYLOADS[payload]:
        assert forbidden not in body, (payload, forbidden)
    assert "<!--sw:" not in body  # every marker was filled


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_every_parameter(client: TestClient, payload: str) -> None:
    for param in PARAMS:
        query = {"utm_source": "google", "utm_medium": "cpc", param: payload}
        response = client.get("/?" + urlencode(query))
        assert response.status_code == 200, param
        assert response.headers["content-type"].startswith("text/html")
        assert_clean(response.text, payload)
        for name, value in response.headers.items():
            assert "<" not in value and "\n" not in value, (param, name, value)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_the_landing_path(client: TestClient, payload: str) -> None:
    response = client.get("/lp/" + quote(payload, safe="") + "?utm_term=" + quote(payload))
    assert response.status_code in (200, 307, 404)
    if response.status_code == 307:  # a '/' in the slug: the router adds a trailing slash
        assert response.headers["location"].startswith("/lp/")  # kept relative: never the Host
    assert_clean(response.text, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_a_matched_campaign(client: TestClient, payload: str) -> None:
    """A payload riding along with a keyword that matches a rule with {keyword} in its headline."""
    url = "/?" + urlencode({"utm_term": "womens running shoes " + payload, "utm_content": payload})
    response = client.get(url)
    assert response.headers["x-shopwindow-rules"] == "womens-running-shoes"
    assert_clean(response.text, payload)


def test_keyword_text_is_escaped_where_it_is_shown(client: TestClient) -> None:
    response = client.get("/?utm_term=" + quote("women's running shoes & socks"))
    assert "<h1>Women&#39;s Running Shoes &amp; Socks</h1>" in response.text
    assert "<title>Women&#39;s Running Shoes &amp; Socks</title>" in response.text


def test_json_answer_is_json_with_the_payload_as_data(client: TestClient) -> None:
    payload = "</script><script>alert(1)</script>"
    response = client.get("/?utm_term=" + quote(payload), headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    body = orjson.loads(response.content)
    assert "<" not in body["headline"]  # a suspicious keyword is never the headline


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    param=st.sampled_from(PARAMS),
    text=st.text(max_size=80).map(lambda t: t + "<x onclick=1>"),
)
def test_any_text_in_any_parameter(client: TestClient, param: str, text: str) -> None:
    # One client for every example: the shop's caches see the whole stream, as in production.
    response = client.get("/?" + urlencode({"gclid": "abc", param: text}))
    assert response.status_code == 200
    assert "<x onclick" not in response.text
