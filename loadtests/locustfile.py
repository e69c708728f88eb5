"""shopwindow's traffic mix: returning visitors, ad clicks, beacons and exit-intent popups.

Each simulated shopper keeps their cookies between requests (as a browser does)
and arrives at a fixed rate (constant_throughput). `SW_MIX=empty` sends the same
rate to the empty endpoint instead, which is the baseline the budget compares with.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant_throughput, task

RATE = float(os.environ.get("SW_USER_RATE", "2"))  # requests per second per simulated shopper
MIX = os.environ.get("SW_MIX", "shop")

WOMEN_RUNNING = [f"w-run-{n:03d}" for n in range(1, 12)]
ADS = [
    "utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=womens+running+shoes&gclid=Cj0K",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=black+sneakers+men&gclid=Cj0L",
    "utm_source=facebook&utm_medium=paid_social&utm_campaign=drop&utm_content=look-1&fbclid=IwAR",
    "utm_source=newsletter&utm_medium=email&utm_campaign=weekly&utm_term=rain+jacket",
    "utm_source=google&utm_medium=cpc&utm_campaign=generic&utm_term=summer+dresses",
]


class Shopper(FastHttpUser):
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        if MIX == "shop":
            # become a returning visitor: a few views and a bag in the cart
            views = [{"type": "view", "product_id": pid} for pid in random.sample(WOMEN_RUNNING, 3)]
            self.client.post("/_sw/events", json=views, name="setup: events")

    @task(60)
    def homepage(self) -> None:
        if MIX == "empty":
            self.client.get("/healthz", name="empty endpoint")
            return
        with self.client.get(
            "/", name="GET / (returning)", allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 302:
                r.failure(f"expected a redirect, got {r.status_code}")

    @task(20)
    def ad_click(self) -> None:
        if MIX == "empty":
            self.client.get("/healthz", name="empty endpoint")
            return
        self.client.get("/?" + random.choice(ADS), name="landing page (ad click)")

    @task(15)
    def beacon(self) -> None:
        if MIX == "empty":
            self.client.get("/healthz", name="empty endpoint")
            return
        events = [
            {"type": "view", "product_id": random.choice(WOMEN_RUNNING)},
            {"type": "search", "query": random.choice(["running shoes", "rain jacket", "bags"])},
        ]
        self.client.post("/_sw/events", json=events, name="events beacon")

    @task(5)
    def exit_intent(self) -> None:
        if MIX == "empty":
            self.client.get("/healthz", name="empty endpoint")
            return
        with self.client.get(
            "/_sw/popup?trigger=exit", name="exit-intent popup", catch_response=True
        ) as r:
            if r.status_code in (200, 204):
                r.success()
