"""Pictures of the demo shop as a shopper sees it, for a look before a demo: `make screenshots`.

Serves the bundled demo shop (from a copy of its rules folder, so its own
store files stay untouched) and photographs it with Chromium into
build/screenshots/: the homepage per country, the "red running shoes" ad's
landing page, a product page after "Add to cart", a sold-out page, the drop
teaser and the homepage on a 390 px phone with the dev preview bar.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
RED_RUNNING_SHOES = (
    "/?utm_source=google&utm_medium=cpc&utm_campaign=running"
    "&utm_term=womens+red+running+shoes&gclid=demo"
)
PRODUCT = "w-run-003"  # a red women's running shoe
SOLD_OUT = "w-run-020"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoServer:
    """`shopwindow serve --dev` on a free loopback port, over a throwaway copy of the rules."""

    def __init__(self, folder: Path) -> None:
        rules = folder / "rules"
        shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("*.sqlite3*"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (folder / "server.log").open("wb")
        args = [
            sys.executable, "-m", "shopwindow", "serve", "--dev", "--port", str(self.port),
            "--rules", str(rules),
            "--catalog", str(ROOT / "demo" / "catalog.jsonl"),
            "--geoip", str(ROOT / "demo" / "geoip.mmdb"),
            "--templates", str(ROOT / "templates"),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.proc = subprocess.Popen(
            args, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server did not start: see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server was not ready within a minute")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def shoot(
    browser: Any, url: str, name: str, device: dict[str, Any], add_to_cart: bool = False
) -> Path:
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        answer = page.goto(url, wait_until="load")
        page.wait_for_timeout(700)  # the cart count and lazy pictures
        if answer is None or answer.status >= 400:
            print(f"skipped {name}: {url} answered {answer.status if answer else 'nothing'}")
            return Path()
        if add_to_cart:
            page.get_by_role("button", name="Add to cart").click()
            page.get_by_role("status").filter(has_text="cart").wait_for()
        path = OUT / f"{name}.png"
        # The whole page on a desktop; a phone's first screen is what a shopper judges.
        full = not add_to_cart and not device.get("is_mobile")
        page.screenshot(path=str(path), full_page=full)
        print(f"wrote {path.relative_to(ROOT)}  ({page.url})")
        return path
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--countries",
        default="de,gb,us,fr",
        help="homepages to photograph, as the dev preview's ?sw_country= (default: de,gb,us,fr)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shopwindow-screenshots-") as folder:
        server = DemoServer(Path(folder))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                base = server.url
                for country in filter(None, args.countries.split(",")):
                    shoot(browser, f"{base}/?sw_country={country}", f"home-{country}", DESKTOP)
                shoot(browser, base + RED_RUNNING_SHOES, "landing-red-running-shoes", DESKTOP)
                shoot(
                    browser, f"{base}/p/{PRODUCT}", f"product-{PRODUCT}", DESKTOP, add_to_cart=True
                )
                shoot(browser, f"{base}/p/{SOLD_OUT}", f"sold-out-{SOLD_OUT}", DESKTOP)
                shoot(browser, f"{base}/lp/capsule", "teaser-capsule", DESKTOP)
                shoot(browser, f"{base}/?sw_country=de", "phone-home-de", PHONE)
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
