"""GET /_sw/dev/sign-in: with --dev only, sign in as one of the demo's sample customers.

The page does what a shop's own page does after its sign-in: its backend (here
this module, with `identity_secret`) renders the customer id and its user_hash,
and the browser sends them with `identify`. It offers the demo's sample
customers only: no request can make it sign another id. Without --dev (and so
always in production) the path answers 404.
"""

from __future__ import annotations

from typing import Final

import orjson
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from shopwindow.serve.request import shop_of
from shopwindow.visitor.identity import user_hash

PATH: Final = "/_sw/dev/sign-in"
# The demo's sample customers, and who each one is.
SAMPLE_CUSTOMERS: Final = {
    "C-104233": "Anna, who shops women's running",
    "C-104234": "Ben, who shops men's outdoor",
}
HEADERS: Final = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}

_PAGE = """<!doctype html><meta charset="utf-8"><title>shopwindow · sign in (development)</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}</style>
<h1>Sign in as a sample customer</h1>
<p>Development only: what a shop's page does after its own sign-in.</p>
{body}
"""


def _script(event: dict[str, object]) -> str:
    """The beacon call, as a shop's backend would render it into its page."""
    data = orjson.dumps(event).decode().replace("<", "\\u003c")
    return (
        "<script>fetch('/_sw/events',{method:'POST',credentials:'same-origin',"
        "headers:{'Content-Type':'application/json'},"
        f"body:JSON.stringify({data})}}).then(function(){{location.assign('/')}})</script>"
    )


async def sign_in(request: Request) -> Response:
    shop = shop_of(request)
    if not shop.settings.dev:
        return PlainTextResponse("Not Found", 404, headers=HEADERS)
    secret = shop.settings.identity_secret
    customer = request.query_params.get("customer")
    if customer is None:
        if not secret:
            body = "<p>Set SHOPWINDOW_IDENTITY_SECRET first: without it, identify is off.</p>"
        else:
            links = "".join(
                f'<li><a href="{PATH}?customer={escape(cid)}">{escape(cid)}</a>: {escape(who)}</li>'
                for cid, who in SAMPLE_CUSTOMERS.items()
            )
            body = f'<ul>{links}</ul><p><a href="{PATH}?customer=">Sign out</a></p>'
        return HTMLResponse(_PAGE.format(body=body), headers=HEADERS)
    if customer == "":
        event: dict[str, object] = {"type": "logout"}
        body = "<p>Signing out…</p>" + _script(event)
        return HTMLResponse(_PAGE.format(body=body), headers=HEADERS)
    if customer not in SAMPLE_CUSTOMERS or not secret:
        return PlainTextResponse(
            "Only the demo's sample customers, with identity_secret set.", 404, headers=HEADERS
        )
    event = {"type": "identify", "customer_id": customer, "user_hash": user_hash(secret, customer)}
    body = f"<p>Signing in as {escape(customer)}…</p>" + _script(event)
    return HTMLResponse(_PAGE.format(body=body), headers=HEADERS)


routes = [Route(PATH, sign_in, methods=["GET"])]
