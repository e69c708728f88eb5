"""A benchmark's result row and the in-process timer, shared by every part of `make bench`."""

from __future__ import annotations

import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    name: str
    kind: str  # "http" | "micro" | "info"
    value: float | None = None  # req/s (http) or µs per call (micro)
    unit: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: float | None = None
    budget: str = ""
    ok: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def per_call_us(fn: Callable[[], Any], min_time: float) -> float:
    """Best of five repeats, each long enough to be timed reliably."""
    n = 1
    while True:
        t = timeit.timeit(fn, number=n)
        if t >= min_time / 5 or n > 10_000_000:
            break
        n *= 4
    best = min(timeit.repeat(fn, number=n, repeat=5))
    return best / n * 1e6
