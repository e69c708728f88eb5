"""Hostile cookies, headers and query strings: never a 500, never a redirect off the site."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from shopwindow.serve.responses import safe_path

from .conftest import http_scope

OFF_SITE = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "https://evil.example/",
    "http://evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    "/%09/evil.example",
    "/%5Cevil.example",
    "https://localhost@evil.example/",
    "https://evil.example@localhost/",
    "//localhost@evil.example",
    "/\uff0fevil.example",
    "/\u2215evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "",
    "evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_path_refuses_off_site(target: str) -> None:
    assert safe_path(target, {"localhost"}) == "/"


@pytest.mark.parametrize("target", ["/de/women/", "/lp/spring?x=1", "https://localhost/de/"])
def test_safe_path_keeps_own_targets(target: str) -> None:
    assert safe_path(target, {"localhost"}) == target


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from shopwindow.app import create_app
    from tests.conftest import DEMO_RULES, build_settings

    # Counts go to a throwaway store, never beside the demo rules.
    store = tmp_path_factory.mktemp("hostile") / "shopwindow.sqlite3"
    settings = build_settings(DEMO_RULES, trusted_proxies=["203.0.113.0/24"], profile_db=str(store))
    app = create_app(settings, watch=False)
    return TestClient(
        app, client=("203.0.113.9", 5000), follow_redirects=False, raise_server_exceptions=True
    )


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cookie=header_text,
    xff=header_text,
    country=header_text,
    ua=header_text,
    lang=header_text,
    referer=header_text,
)
def test_headers_and_cookie_never_500(
    fuzz_client: TestClient, cookie: str, xff: str, country: str, ua: str, lang: str, referer: str
) -> None:
    fuzz_client.cookies.clear()
    headers = {
        "Cookie": f"sw={cookie}; sw_preview={cookie}",
        "X-Forwarded-For": xff,
        "CF-IPCountry": country,
        "User-Agent": ua,
        "Accept-Language": lang,
        "Referer": referer,
    }
    for path in ("/", "/_sw/fragments/recently-viewed", "/de/women/", "/p/w-run-001"):
        r = fuzz_client.get(path, headers=headers)
        assert r.status_code < 500
        if r.status_code in (301, 302, 303, 307, 308):
            assert safe_path(r.headers["location"]) == r.headers["location"]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
                "gclid",
                "fbclid",
                "sw_country",
                "sw_gender",
                "exclude",
                "x",
            ]
        ),
        st.text(max_size=120),
        max_size=6,
    )
)
def test_query_strings_never_500(fuzz_client: TestClient, params: dict[str, str]) -> None:
    fuzz_client.cookies.clear()
    for path in ("/", "/_sw/fragments/recently-viewed", "/de/"):
        r = fuzz_client.get(path, params=params)
        assert r.status_code < 500
        for value in params.values():
            if "<" in value and len(value) > 3:
                assert value not in r.text  # never reflected unescaped


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=40),
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "product_id",
                        "query",
                        "items",
                        "order_id",
                        "customer_id",
                        "rule",
                        "variant",
                        "price",
                        "full_price",
                        "quantity",
                    ]
                ),
                children,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_event_payloads_never_500(fuzz_client: TestClient, payload: object) -> None:
    r = fuzz_client.post("/_sw/events", json=payload)
    assert r.status_code in (200, 400, 413)


def test_oversized_cookie_is_a_new_visitor(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    r = client.get("/", headers={"Cookie": "sw=" + "A" * 9000})
    assert r.status_code == 302
    assert "set-cookie" in r.headers


def asgi_answer(app: object, scope: dict[str, object], body: bytes = b"") -> tuple[int, bytes]:
    """Call the app directly: bytes no HTTP client would send still reach it (and nothing escapes)."""
    import asyncio

    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    status = next(int(m["status"]) for m in sent if m["type"] == "http.response.start")  # type: ignore[call-overload]
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]
    return status, content


raw_bytes = st.binary(max_size=80)
RAW_PATHS = [
    "/",
    "/de/",
    "/de/women/",
    "/lp/x",
    "/p/w-run-001",
    "/_sw/events",
    "/_sw/popup",
    "/_sw/fragments/recently-viewed",
    "/_sw/fragments/recommendations",
    "/_sw/sw.js",
    "/readyz",
    "/x",
]


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"]),
    path=st.sampled_from(RAW_PATHS),
    suffix=st.text(max_size=30),
    query=raw_bytes,
    headers=st.lists(st.tuples(raw_bytes, raw_bytes), max_size=8),
    body=raw_bytes,
)
def test_raw_requests_never_500_and_never_raise(
    fuzz_client: TestClient,
    method: str,
    path: str,
    suffix: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    scope = http_scope(method, path + suffix, query, [(k.lower(), v) for k, v in headers])
    status, content = asgi_answer(fuzz_client.app, scope, body)
    assert status < 500, (status, content[:300])
    assert b"Traceback" not in content
