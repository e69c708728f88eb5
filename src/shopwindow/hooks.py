"""The hooks placements plug into, each a typed Protocol: how the parts of a visit find each other.

A placement module exposes `install(shop, hooks)`: it appends its functions to
the lists below and returns its own typed state, which `app.install_placements`
keeps in `shop.services`. Nothing is registered by name or looked up by string.

| hook                      | called by                  | when                                           |
|---------------------------|----------------------------|------------------------------------------------|
| `context`                 | request.assemble_visit         | after the request's facts are read, before any rule |
| `exposures`               | responses.personalize      | an answer names the rules that decided it      |
| `events`                  | beacon.events_endpoint     | the browser reports what the visitor did       |
| `fragments`               | proxy.OriginProxy.fill    | a slot of the origin's page is filled          |
| `landing`                 | homepage.root              | `GET /` carries campaign parameters            |
| `landing_first`           | landing.answer             | before the landing rules (a shoppable post)    |
| `explain`                 | explain.explain_visit      | `shopwindow explain` says what a placement shows |
| `product_recommendations` | product.product_page       | a product page shows what to buy instead       |
| `on_start` / `on_stop`    | app.create_app's lifespan  | the worker starts and stops                    |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: the modules named here import this one
    from markupsafe import Markup
    from starlette.requests import Request
    from starlette.responses import Response

    from shopwindow.catalog.feed import Product
    from shopwindow.origin.proxy import OriginProxy
    from shopwindow.placements.landing import LandingService
    from shopwindow.placements.outofstock import OutOfStock
    from shopwindow.placements.popups import PopupState
    from shopwindow.profiles.service import Profiles
    from shopwindow.profiles.staff import StaffService
    from shopwindow.shop import Shop, Snapshot
    from shopwindow.stats.counting import Recorder
    from shopwindow.visitor.context import Visit
    from shopwindow.visitor.events import Event


class ContextHook(Protocol):
    """Adds context keys of its own to a visit (the campaign, the post, the customer's profile)."""

    def __call__(self, shop: Shop, visit: Visit, snap: Snapshot, /) -> None: ...


class ExposureSink(Protocol):
    """Told which rules decided an answer this visitor got (`labels` as in X-Shopwindow-Rules)."""

    def __call__(self, shop: Shop, visit: Visit, labels: list[str], /) -> None: ...


class EventSink(Protocol):
    """Told the events the beacon accepted for a visitor who consented."""

    def __call__(self, shop: Shop, visit: Visit, events: list[Event], /) -> None: ...


class Fragment(Protocol):
    """A slot's HTML for this visitor, and the rule labels that decided it."""

    async def __call__(
        self, request: Request, shop: Shop, snap: Snapshot, visit: Visit, /
    ) -> tuple[str, list[str]]: ...


class LandingAnswer(Protocol):
    """The answer to a URL that carries campaign parameters."""

    async def __call__(
        self, request: Request, shop: Shop, snap: Snapshot, visit: Visit, /
    ) -> Response: ...


class LandingFirst(Protocol):
    """An answer that comes before the landing rules; None when the visit is not its own."""

    async def __call__(
        self, request: Request, shop: Shop, snap: Snapshot, visit: Visit, /
    ) -> Response | None: ...


class Explainer(Protocol):
    """What a placement's answer would show for a visit (for `shopwindow explain`)."""

    def __call__(self, shop: Shop, snap: Snapshot, visit: Visit, /) -> dict[str, Any]: ...


class ProductRecommendations(Protocol):
    """What a product page shows instead of a product that cannot be bought."""

    def __call__(
        self, shop: Shop, snap: Snapshot, visit: Visit, product: Product, /
    ) -> tuple[Markup, list[str]]: ...


class Lifecycle(Protocol):
    """Work done once when a worker starts (open a pool, warm a cache) or stops (flush)."""

    async def __call__(self, shop: Shop, /) -> None: ...


@dataclass(slots=True)
class Hooks:
    """Every hook, filled by the placements' `install` in the order app.py gives."""

    context: list[ContextHook] = field(default_factory=list)
    exposures: list[ExposureSink] = field(default_factory=list)
    events: list[EventSink] = field(default_factory=list)
    fragments: dict[str, Fragment] = field(default_factory=dict)
    landing: LandingAnswer | None = None
    landing_first: list[LandingFirst] = field(default_factory=list)
    explain: dict[str, Explainer] = field(default_factory=dict)
    product_recommendations: ProductRecommendations | None = None
    on_start: list[Lifecycle] = field(default_factory=list)
    on_stop: list[Lifecycle] = field(default_factory=list)


@dataclass(slots=True)
class Services:
    """What each placement's `install` returned; None while it is not installed."""

    stats: Recorder | None = None
    outofstock: OutOfStock | None = None
    popups: PopupState | None = None
    landing: LandingService | None = None
    profiles: Profiles | None = None
    staff: StaffService | None = None
    origin: OriginProxy | None = None

    def installed(self) -> Sequence[str]:
        """The names of the services present (for tests and the start-up log)."""
        return [name for name in self.__slots__ if getattr(self, name) is not None]
