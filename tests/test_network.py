"""Client IP through trusted proxies: who may speak for the visitor's address."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.visitor.network import (
    MAX_FORWARDED_CHARS,
    MAX_FORWARDED_HOPS,
    TrustedProxies,
    canonical_ip,
)

CDN = TrustedProxies(["10.0.0.0/8", "127.0.0.1", "::1", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("ip", "trusted"),
    [
        ("10.0.0.1", True),
        ("10.255.255.255", True),
        ("11.0.0.0", False),
        ("9.255.255.255", False),
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("::1", True),
        ("::2", False),
        ("2001:db8:ffff::1", True),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
        ("2001:db8:fffe::1", False),
        ("::ffff:10.1.2.3", True),  # dual-stack socket reporting an IPv4 peer
        ("10.1.2.3:443", True),
        ("[::1]:8080", True),
        ("", False),
        ("garbage", False),
        ("10.0.0.0/8", False),
        ("198.51.100.1", False),
    ],
)
def test_is_trusted(ip: str, trusted: bool) -> None:
    assert CDN.is_trusted(ip) is trusted


def test_no_trusted_proxies_trusts_nobody() -> None:
    nobody = TrustedProxies([])
    assert not nobody.is_trusted("127.0.0.1")
    assert nobody.client_ip("127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_overlapping_and_adjacent_networks_merge() -> None:
    proxies = TrustedProxies(["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16", "192.0.2.1"])
    assert proxies.is_trusted("10.127.255.255")
    assert proxies.is_trusted("10.128.0.0")
    assert not proxies.is_trusted("11.0.0.0")
    assert proxies.is_trusted("192.0.2.1")
    assert not proxies.is_trusted("192.0.2.2")
    assert not proxies.is_trusted("192.0.2.0")


def test_setting_string_is_split_on_commas() -> None:
    proxies = TrustedProxies("10.0.0.0/8, ::1 ,")
    assert proxies.networks == ("10.0.0.0/8", "::1/128")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-network", "300.1.1.1", "::1/129"])
def test_invalid_network_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        TrustedProxies(["10.0.0.0/8", bad])


def test_network_with_host_bits_suggests_the_network() -> None:
    # Trusting 10.0.0.0/8 when someone typed 10.0.0.5/8 would widen trust silently.
    with pytest.raises(ValueError, match=r"10\.0\.0\.5/8.*did you mean 10\.0\.0\.0/8"):
        TrustedProxies(["10.0.0.5/8"])


def test_trust_cache_is_bounded() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"], cache_size=16)
    for last in range(200):
        proxies.is_trusted(f"192.0.2.{last}")
    info = proxies._cached_is_trusted.cache_info()
    assert info.currsize == 16
    assert info.maxsize == 16


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        # Straight from the visitor: no proxy vouches for the header.
        ("198.51.100.7", None, "198.51.100.7"),
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("198.51.100.7", "10.0.0.1", "198.51.100.7"),
        # Through one trusted proxy.
        ("10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", " 203.0.113.9 ", "203.0.113.9"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        # The visitor prepended a lie; the proxy appended the truth.
        ("10.0.0.1", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.2, 10.0.0.3", "203.0.113.9"),
        # Every hop ours: the leftmost is as close to the visitor as we get.
        ("10.0.0.1", "10.0.0.9, 10.0.0.2", "10.0.0.9"),
        # Ports and brackets.
        ("10.0.0.1", "203.0.113.9:5678", "203.0.113.9"),
        ("10.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.1", "[2001:db8::7]", "2001:db8::7"),
        ("10.0.0.1", "2001:DB8:0::7", "2001:db8::7"),
        ("[::1]:9000", "203.0.113.9", "203.0.113.9"),
        ("::ffff:10.0.0.1", "::ffff:203.0.113.9", "203.0.113.9"),
        # Garbage ends the walk at the last good address.
        ("10.0.0.1", "unknown", "10.0.0.1"),
        ("10.0.0.1", "203.0.113.9, unknown", "10.0.0.1"),
        ("10.0.0.1", "garbage, 10.0.0.2", "10.0.0.2"),
        ("10.0.0.1", "203.0.113.9, garbage, 10.0.0.2", "10.0.0.2"),
        ("10.0.0.1", "[2001:db8::7", "10.0.0.1"),
        ("10.0.0.1", "203.0.113.9/24", "10.0.0.1"),
        # Empty entries carry nothing and are skipped.
        ("10.0.0.1", "203.0.113.9,, ,", "203.0.113.9"),
        ("10.0.0.1", ",,,", "10.0.0.1"),
        # The peer itself.
        (None, "203.0.113.9", ""),
        (None, None, ""),
        ("testclient", "203.0.113.9", "testclient"),
        ("198.51.100.7:1234", None, "198.51.100.7"),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, client: str) -> None:
    assert CDN.client_ip(peer, xff) == client


def test_hop_limit_stops_a_long_chain_of_trusted_hops() -> None:
    ours = [f"10.0.0.{n}" for n in range(1, MAX_FORWARDED_HOPS + 5)]
    xff = ", ".join(["203.0.113.9", *ours])
    # The visitor sits beyond the hop limit: we stop at the last hop we read.
    assert CDN.client_ip("10.0.0.254", xff) == ours[-MAX_FORWARDED_HOPS]


def test_huge_header_keeps_its_right_end() -> None:
    xff = "203.0.113.1, " * 5000 + "203.0.113.9"
    assert CDN.client_ip("10.0.0.1", xff) == "203.0.113.9"


def test_cut_through_an_address_never_yields_a_forged_one() -> None:
    # Padding puts the cut on the third character of "111.2.3.4": read naively, the
    # remainder "1.2.3.4" would be a valid address the visitor never had.
    head, tail = "111.2.3.4,", "10.0.0.2"
    padding = " " * (MAX_FORWARDED_CHARS + 2 - len(head) - len(tail))
    xff = head + padding + tail
    assert xff[-MAX_FORWARDED_CHARS:].startswith("1.2.3.4,")
    assert CDN.client_ip("10.0.0.1", xff) == "10.0.0.2"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:80", "192.0.2.1"),
        ('"192.0.2.1"', "192.0.2.1"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2.256", None),
        ("1.2.3", None),
        ("", None),
        ("x" * 100, None),
        ("192.0.2.1:80:80", None),
    ],
)
def test_canonical_ip(text: str, canonical: str | None) -> None:
    assert canonical_ip(text) == canonical


@settings(max_examples=300, deadline=None)
@given(peer=st.one_of(st.none(), st.text(max_size=60)), xff=st.one_of(st.none(), st.text()))
def test_client_ip_never_raises(peer: str | None, xff: str | None) -> None:
    client = CDN.client_ip(peer, xff)
    assert isinstance(client, str)
    if peer is None:
        assert client == ""


addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:{443}"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:443"),
    st.sampled_from(["unknown", "", " ", "_hidden", "[::1", "1.2.3"]),
)


@settings(max_examples=300, deadline=None)
@given(
    peer=st.one_of(st.ip_addresses().map(str), st.sampled_from(["10.0.0.1", "::1"])),
    hops=st.lists(addresses, max_size=30),
)
def test_client_is_the_peer_or_an_entry_of_the_header(peer: str, hops: list[str]) -> None:
    client = CDN.client_ip(peer, ", ".join(hops))
    candidates = {canonical_ip(peer)} | {canonical_ip(hop) for hop in hops}
    assert client in candidates
    if not CDN.is_trusted(peer):
        assert client == canonical_ip(peer)


@settings(max_examples=200, deadline=None)
@given(visitor=st.ip_addresses().map(str), lies=st.lists(st.ip_addresses().map(str), max_size=5))
def test_visitor_cannot_forge_their_address_through_one_proxy(
    visitor: str, lies: list[str]
) -> None:
    # Whatever the visitor puts in the header, our proxy appends their real address.
    if CDN.is_trusted(visitor):
        return
    xff = ", ".join([*lies, visitor])
    assert CDN.client_ip("10.0.0.1", xff) == canonical_ip(visitor)
