"""Shoppers reading the origin's pages at a fixed rate, directly or through `serve --origin`.

Each simulated shopper keeps its cookies (as a browser does) and asks for one of
the demo origin's pages at `SW_USER_RATE` pages/s, paced as locust's
`constant_throughput` paces (a late answer shifts the next page, it is not made
up for), except that each shopper starts at its own random moment within one
period: locust starts them all within a few milliseconds and
`constant_throughput` keeps each one's phase, so the server would see every
shopper at once, five times a second, instead of the steady rate that is meant.
Every answer's time is written, unrounded, to `SW_TIMES_OUT` when locust stops:
locust's own report rounds to whole milliseconds, coarser than the budget it is
held to.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, events, task

RATE = float(os.environ.get("SW_USER_RATE", "5"))
PERIOD = 1 / RATE
PAGES = os.environ.get("SW_PAGES", "/").split(",")
TIMES_OUT = os.environ.get("SW_TIMES_OUT", "")
_times: list[float] = []
_failures = [0]


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, **_: Any) -> None:
    if exception is None:
        _times.append(response_time)
    else:
        _failures[0] += 1


@events.quitting.add_listener
def _write(**_: Any) -> None:
    if TIMES_OUT:
        with open(TIMES_OUT, "w") as f:
            f.write(f"failures {_failures[0]}\n")
            f.writelines(f"{t:.4f}\n" for t in _times)


class Shopper(FastHttpUser):
    due = 0.0  # when this shopper's next page is asked for

    def on_start(self) -> None:
        self.due = time.perf_counter() + random.uniform(0, PERIOD)
        gevent.sleep(self.due - time.perf_counter())

    def wait_time(self) -> float:
        now = time.perf_counter()
        self.due = max(self.due + PERIOD, now)
        return self.due - now

    @task
    def page(self) -> None:
        self.client.get(random.choice(PAGES), name="origin page")
