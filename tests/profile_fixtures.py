"""Helpers for the profile tests: a store CSV, test-only rules that read profile.*, polling."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from click.testing import CliRunner

from shopwindow.cli.main import main
from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET

T = TypeVar("T")

STORE_CSV = """customer_id,email,product_id,price,full_price,store,timestamp
c1,anna@example.com,w-run-001,92.95,true,Berlin Mitte,2024-03-01T10:00:00
c1,anna@example.com,w-run-002,72.95,false,Berlin Mitte,2024-03-01T10:00:00
c1,anna@example.com,w-run-003,49.00,true,Berlin Mitte,2024-05-02T17:30:00
c1,anna@example.com,w-run-004,19.90,true,Hamburg Altona,2024-06-10T12:00:00
c2,ben@example.com,w-run-005,30.00,true,Hamburg Altona,2024-06-11T12:00:00
"""

# Test-only rules: the homepage placement says, through X-Shopwindow-Rules, what
# profile.* looked like, and a popups file holds the seeds' first-order offer.
HOMEPAGE = """
- id: first-order-welcome
  when:
    profile.orders: 0
    visitor.orders: 0
  then:
    path: /{country}/women/
- id: store-customer
  when:
    profile.offline_orders: {gte: 1}
  then:
    path: /{country}/
- id: country-home
  then:
    path: /{country}/
"""
POPUPS = """
- id: first-order
  when:
    visitor.orders: 0
    profile.orders: 0
  then:
    title: "15% off your first order"
    offer: {code: WELCOME15, percent_off: 15}
  caps: {per_visitor: 1, after_dismiss_days: 30}
"""


def write_journey_rules(rules: Path) -> None:
    (rules / "homepage.yaml").write_text(HOMEPAGE, encoding="utf-8")
    (rules / "popups.yaml").write_text(POPUPS, encoding="utf-8")


def cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, args, env={"SHOPWINDOW_SECRET": SECRET, **(env or {})}, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def import_store_csv(folder: Path, rules: Path, *extra: str) -> None:
    path = folder / "store-export.csv"
    path.write_text(STORE_CSV, encoding="utf-8")
    code, out, err = cli(["import", "purchases", str(path), "--rules", str(rules), *extra])
    assert code == 0, out + err


def rules_header(response: object) -> str:
    headers = getattr(response, "headers")  # noqa: B009 - httpx and Starlette responses alike
    return str(headers.get("x-shopwindow-rules", ""))


def visitor_of(cookie: str | None) -> Visitor:
    visitor = CookieCodec(SECRET, 365).decode(cookie)
    assert visitor is not None, "no valid visitor cookie"
    return visitor


def eventually(check: Callable[[], T | None], timeout: float = 10.0, every: float = 0.05) -> T:
    """Poll until `check` returns something truthy (writes are flushed off the request path)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        time.sleep(every)


def degraded_count(metrics_text: str, part: str = "profiles") -> float:
    m = re.search(rf'^shopwindow_degraded_total{{part="{part}"}} (\S+)$', metrics_text, re.M)
    return float(m.group(1)) if m else 0.0
