"""The visitor's IP address: X-Forwarded-For honoured only through trusted proxies."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache

# The proxies we sit behind append to X-Forwarded-For; everything to the left of
# the first untrusted hop was written by the visitor. A chain longer than this
# is either misconfigured or an attack, and parsing it would cost every request.
MAX_FORWARDED_HOPS = 20
MAX_FORWARDED_CHARS = 1024

# Longer than any textual IP address with a port or a zone id: skip parsing at once.
_MAX_ADDRESS_CHARS = 64

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> IPAddress | None:
    """An address from an X-Forwarded-For entry or a peer, tolerating ports and brackets."""
    text = text.strip().strip('"')
    if not text or len(text) > _MAX_ADDRESS_CHARS:
        return None
    if text[0] == "[":
        # "[2001:db8::1]:443", the only unambiguous way to write an IPv6 address with a port.
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        # "192.0.2.1:5678": IPv4 with a port; bare IPv6 always has two colons or more.
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; a proxy list and a
        # GeoIP database know them as a.b.c.d.
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8192)
def canonical_ip(text: str) -> str | None:
    """The canonical text of an address ("192.0.2.1:80" -> "192.0.2.1"), or None if invalid."""
    address = _parse(text)
    return None if address is None else str(address)


def _merged_ranges(
    networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    starts: list[int] = []
    ends: list[int] = []
    for network in ipaddress.collapse_addresses(networks):  # type: ignore[type-var]
        starts.append(int(network.network_address))
        ends.append(int(network.broadcast_address))
    return tuple(starts), tuple(ends)


class TrustedProxies:
    """The networks whose X-Forwarded-For entries we believe (CDN edges, load balancers)."""

    def __init__(self, cidrs: Iterable[str], cache_size: int = 4096) -> None:
        if isinstance(cidrs, str):
            # One setting string such as "10.0.0.0/8, ::1": accept it rather than
            # iterating over its characters.
            cidrs = cidrs.replace(",", " ").split()
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        for cidr in cidrs:
            text = cidr.strip()
            if not text:
                continue
            try:
                network = ipaddress.ip_network(text)
            except ValueError as error:
                hint = ""
                try:
                    hint = f" (did you mean {ipaddress.ip_network(text, strict=False)}?)"
                except ValueError:
                    pass
                raise ValueError(f"invalid trusted proxy network {cidr!r}{hint}") from error
            if isinstance(network, ipaddress.IPv4Network):
                v4.append(network)
            else:
                v6.append(network)
        self.networks: tuple[str, ...] = tuple(str(n) for n in (*v4, *v6))
        self._v4 = _merged_ranges(v4)
        self._v6 = _merged_ranges(v6)
        # Per instance, so two configurations in one process never share answers.
        self._cached_is_trusted = lru_cache(maxsize=cache_size)(self._lookup)

    def __repr__(self) -> str:
        return f"TrustedProxies({list(self.networks)!r})"

    def _lookup(self, ip: str) -> bool:
        address = _parse(ip)
        if address is None:
            return False
        starts, ends = self._v4 if address.version == 4 else self._v6
        index = bisect_right(starts, int(address)) - 1
        return index >= 0 and int(address) <= ends[index]

    def is_trusted(self, ip: str) -> bool:
        """Whether ip (any textual form, "::ffff:10.0.0.1" and "10.0.0.1:80" included) is ours."""
        if not self.networks:
            return False
        return self._cached_is_trusted(ip)

    def client_ip(self, peer: str | None, x_forwarded_for: str | None) -> str:
        """The visitor's address: the first untrusted hop, reading X-Forwarded-For from the right.

        A request that did not come through a trusted proxy is taken at its word
        about nothing: its X-Forwarded-For is ignored. An entry we cannot parse
        ends the walk, because whoever wrote it (a proxy saying "unknown", or the
        visitor) cannot vouch for what lies to its left; the last good address is
        returned instead. Several X-Forwarded-For headers must be joined with ","
        by the caller, in order.
        """
        if peer is None:
            return ""
        peer_ip = canonical_ip(peer)
        if peer_ip is None:
            # Not an IP (a test client's "testclient", a unix socket): nothing to walk from.
            return peer
        if not x_forwarded_for or not self.is_trusted(peer_ip):
            return peer_ip
        forwarded = x_forwarded_for
        if len(forwarded) > MAX_FORWARDED_CHARS:
            # Keep the right end (written by our proxies) and drop the entry the cut
            # went through: "11.2.3.4" cut to "1.2.3.4" would be a valid lie.
            forwarded = forwarded[-MAX_FORWARDED_CHARS:].partition(",")[2]
        client = peer_ip
        hops = 0
        for entry in reversed(forwarded.split(",")):
            if not entry.strip():
                continue
            hops += 1
            if hops > MAX_FORWARDED_HOPS:
                break
            address = canonical_ip(entry)
            if address is None:
                break
            client = address
            if not self.is_trusted(address):
                break
        return client
