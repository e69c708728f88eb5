"""The demo shop's product page /p/{id}: view beacons, add to cart, slots for recommendations."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shopwindow.pages.recentlyviewed import recently_viewed_cards, render_recently_viewed
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import personalize


async def product_page(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    product = snap.catalog.get(request.path_params["product_id"])
    if product is None:
        return HTMLResponse("Not found", status_code=404)
    visit = visit_of(request, snap)
    labels: list[str] = []
    recommendations = Markup("")
    render_recs = shop.hooks.product_recommendations
    if render_recs is not None:
        recommendations, labels = render_recs(shop, snap, visit, product)
    strip = render_recently_viewed(
        shop, recently_viewed_cards(shop, snap, visit.visitor.viewed, exclude=product.id)
    )
    html = shop.templates.get_template("product.html").render(
        product=product.to_json(),
        country=visit.ctx.get("market") or visit.country.lower(),  # the store's prefix
        gender=product.gender,
        recommendations=recommendations,
        recently=Markup(strip),
        dev=shop.settings.dev,
        preview=visit.preview,
    )
    return personalize(HTMLResponse(html), shop, visit, labels)


routes = [Route("/p/{product_id}", product_page, methods=["GET", "HEAD"])]
