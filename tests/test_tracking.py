"""Tracking parameters: the names a shared cache and attribution-safe redirects leave aside."""

from __future__ import annotations

import pytest

from shopwindow.visitor.tracking import TRACKING_PARAMETERS, is_tracking_parameter, split_query


@pytest.mark.parametrize(
    "name",
    [
        "gclid",
        "gbraid",
        "wbraid",
        "dclid",
        "msclkid",
        "fbclid",
        "ttclid",
        "twclid",
        "li_fat_id",
        "ScCid",
        "yclid",
        "epik",
        "awc",
        "_kx",
        "srsltid",
        "_gl",
        "mc_cid",
        "mc_eid",
        "igshid",
        "irclid",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "utm_id",
        "utm_anything_new",
    ],
)
def test_click_ids_and_campaign_tags_are_tracking_parameters(name: str) -> None:
    assert is_tracking_parameter(name)


@pytest.mark.parametrize("name", ["page", "q", "size", "color", "sort", "utm", "id"])
def test_parameters_that_choose_the_page_are_not(name: str) -> None:
    assert not is_tracking_parameter(name)


def test_the_list_is_long_enough_to_matter() -> None:
    assert len(TRACKING_PARAMETERS) >= 30


def test_split_query_keeps_the_rest_in_order_and_returns_the_values() -> None:
    assert split_query(b"page=2&gclid=abc&sort=price&utm_source=news") == (
        b"page=2&sort=price",
        ["abc", "news"],
    )
    assert split_query(b"page=2") == (b"page=2", [])
    assert split_query(b"gclid=&page=2") == (b"page=2", [])
    assert split_query(b"utm%5Fsource=x") == (b"", ["x"])
    assert split_query(b"") == (b"", [])
