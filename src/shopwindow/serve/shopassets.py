"""The shop's small answers around its pages: drawn product pictures, the favicon, the cart count."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopwindow.serve.request import snapshot_of, visit_of
from shopwindow.serve.responses import JSON_TYPE, RawAnswer, json_body

SVG_TYPE: Final = (b"content-type", b"image/svg+xml")
# A picture is the same for everyone; a week in any cache, checked by ETag after.
PICTURE_CACHE: Final = (b"cache-control", b"public, max-age=604800, stale-while-revalidate=86400")
ICON_CACHE: Final = (b"cache-control", b"public, max-age=86400")
PRIVATE: Final = (b"cache-control", b"private, no-store")
# A shopping bag in the shop's orange.
FAVICON: Final = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    b'<rect width="64" height="64" rx="14" fill="#111"/>'
    b'<path d="M22 24 Q22 12 32 12 Q42 12 42 24" fill="none" stroke="#f5a623" stroke-width="5"/>'
    b'<path d="M14 24 L50 24 L54 54 L10 54Z" fill="#f5a623"/></svg>'
)


async def product_picture(request: Request) -> Response:
    snap = snapshot_of(request)
    found = snap.catalog.picture(request.path_params["product_id"])
    if found is None:
        return RawAnswer(404, [(b"content-type", b"text/plain; charset=utf-8")], b"Not found")
    body, etag = found
    headers = [SVG_TYPE, PICTURE_CACHE, (b"etag", etag.encode())]
    if etag in request.headers.get("if-none-match", ""):
        return RawAnswer(304, headers[1:])
    return RawAnswer(200, headers, body if request.method == "GET" else b"")


async def favicon(request: Request) -> Response:
    return RawAnswer(200, [SVG_TYPE, ICON_CACHE], FAVICON)


def cart_summary(cart: list[list[Any]]) -> dict[str, Any]:
    """How many items the cart holds, and its lines (product and quantity), oldest first."""
    lines = [
        {"product_id": str(line[0]), "quantity": line[1] if isinstance(line[1], int) else 1}
        for line in cart
        if len(line) > 1
    ]
    return {"count": sum(line["quantity"] for line in lines), "lines": lines}


async def cart_count(request: Request) -> Response:
    """The visitor's cart as their cookie has it, for the header's count."""
    snap = snapshot_of(request)
    visit = visit_of(request, snap, for_rules=False)
    body = json_body(cart_summary(visit.visitor.cart))
    return RawAnswer(200, [JSON_TYPE, PRIVATE, (b"vary", b"Cookie")], body)


routes = [
    Route("/_sw/img/product/{product_id}.svg", product_picture, methods=["GET", "HEAD"]),
    Route("/_sw/cart", cart_count, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
]
