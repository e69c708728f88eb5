"""Wrong staff and stats tokens, counted per client address: after too many, the address waits.

One client address is the address the trusted-proxy rules resolve (visitor/network.py);
IPv6 addresses count per /64, since one host usually holds a whole /64. After
`limit` wrong tokens within `lockout_seconds` of the first, every further try
from that address answers 429 with Retry-After, without the token being
checked, until the window ends. The right token from another address still
opens the view. Memory is bounded (`max_addresses`, least recently failed
dropped first), and the log says at most one line per `LOG_EVERY` seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

log = logging.getLogger("shopwindow.tokens")

MAX_ADDRESSES = 20_000
LOG_EVERY = 10.0  # seconds between two log lines about wrong tokens


def client_key(address: str) -> str:
    """The address a count is kept for: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class TokenThrottle:
    """Counts wrong tokens per client address; says how long a throttled address must wait."""

    def __init__(
        self,
        limit: int = 10,
        lockout_seconds: float = 900.0,
        *,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = max(1, limit)
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        # address -> [wrong tokens, when the first of them came]
        self._failures: TTLCache[str, list[float]] = TTLCache(
            max_addresses, lockout_seconds, timer=clock
        )
        self._lock = threading.Lock()
        self._log_at = -math.inf
        self._unlogged = 0

    def __len__(self) -> int:
        with self._lock:
            self._failures.expire()
            return len(self._failures)

    def wait(self, address: str) -> int:
        """Seconds this address must wait before a token is checked again; 0: check it."""
        key = client_key(address)
        with self._lock:
            entry = self._failures.get(key)
            if entry is None or entry[0] < self.limit:
                return 0
            left = entry[1] + self.lockout_seconds - self.clock()
        return max(1, math.ceil(left))

    def failed(self, address: str, what: str) -> None:
        """One more wrong token from this address (`what` names the view, for the log)."""
        key = client_key(address)
        now = self.clock()
        with self._lock:
            entry = self._failures.get(key)
            if entry is None:
                # Kept for lockout_seconds from the first wrong token (the cache's TTL).
                self._failures[key] = [1, now]
                count = 1
            else:
                entry[0] += 1
                count = int(entry[0])
            speak = now >= self._log_at
            if speak:
                self._log_at = now + LOG_EVERY
                unlogged, self._unlogged = self._unlogged, 0
            else:
                self._unlogged += 1
        if speak:
            more = f" ({unlogged} more since the last line)" if unlogged else ""
            waits = " — it now waits" if count >= self.limit else ""
            log.warning("%s: wrong token from %s%s%s", what, key, waits, more)


def too_many(seconds: int) -> dict[str, str]:
    """Headers of a 429 for a throttled address."""
    return {"Retry-After": str(seconds), "Cache-Control": "no-store"}
