"""An expired shared page is fetched again once, however many shoppers ask for it meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from tests.origin_site import Answer, OriginSite, Seen, html

PAGE = "<html><body><h1>Women</h1><p>Shared by everyone</p></body></html>"
SHARED = ("Cache-Control", "public, max-age=60")


@pytest.fixture
def site() -> Iterator[OriginSite]:
    site = OriginSite({"/de/women/": html(PAGE, SHARED), "/account": html(PAGE)})
    yield site
    site.close()


def held_until(release: threading.Event, *headers: tuple[str, str]) -> Callable[[Seen], Answer]:
    def answer(seen: Seen) -> Answer:
        release.wait(10)  # bounded: the test releases it
        return html(PAGE, *headers)

    return answer


def test_shoppers_asking_for_an_expired_page_wait_for_the_one_fetch_under_way(
    make_client: Callable[..., TestClient], site: OriginSite
) -> None:
    # Two origin requests per address: five at once from one CDN address would be refused.
    client = make_client(origin=site.url, origin_client_requests=2)
    assert client.get("/de/women/").status_code == 200
    proxy = client.app.state.shop.services.origin  # type: ignore[attr-defined]
    proxy.cache.clear()  # the stored copy expires
    release = threading.Event()
    site.pages["/de/women/"] = held_until(release, SHARED)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(client.get, "/de/women/")
        site.wait_arrived("/de/women/", 2)
        others = [pool.submit(client.get, "/de/women/") for _ in range(4)]
        with pytest.raises(AssertionError, match="did not reach the origin"):
            site.wait_arrived("/de/women/", 3, timeout=0.5)
        release.set()
        answers = [first.result(10), *(f.result(10) for f in others)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all("Shared by everyone" in a.text for a in answers)
    assert site.hits("/de/women/") == 2


def test_a_page_that_was_never_shared_is_not_waited_for(
    make_client: Callable[..., TestClient], site: OriginSite
) -> None:
    client = make_client(origin=site.url)
    release = threading.Event()
    site.pages["/account"] = held_until(release)  # no Cache-Control: never stored
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.get, "/account")
        site.wait_arrived("/account", 1)
        second = pool.submit(client.get, "/account")
        site.wait_arrived("/account", 2)  # on its way too, not waiting for the first
        release.set()
        assert first.result(10).status_code == second.result(10).status_code == 200
