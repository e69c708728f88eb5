"""`shopwindow explain`: what a visitor would get for a URL, rule by rule, and why."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from shopwindow.app import install_placements
from shopwindow.rules.pathtemplate import fill_path
from shopwindow.rules.rules import HOLDOUT, Rule, Why
from shopwindow.serve.request import assemble_visit
from shopwindow.settings import Settings
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import RequestFacts, Visit
from shopwindow.visitor.cookie import Visitor
from shopwindow.visitor.network import TrustedProxies

EXPLAIN_PEER = "127.0.0.1"


def placement_for(path: str, campaign_present: bool, landing_prefix: str) -> str:
    if path.startswith("/_sw/popup"):
        return "popups"
    if path.startswith("/p/") or path.startswith("/_sw/fragments/recommendations"):
        return "out-of-stock"
    if path.startswith(landing_prefix) or (path == "/" and campaign_present):
        return "landing-pages"
    return "homepage"


def explain_url(
    settings: Settings,
    url: str,
    *,
    country: str | None = None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    shop = Shop(settings)
    errors = shop.load()
    if errors:
        raise ValueError("the rules have errors:\n" + "\n".join(errors))
    snap = shop.snapshot
    assert snap is not None
    attach_placements(shop)
    try:
        return explain_visit(
            shop, snap, url, country=country, cookie=cookie, headers=headers, now=now
        )
    finally:
        shop.stop()


def attach_placements(shop: Shop) -> None:
    """The placements' context hooks and state, installed as the server installs them at start."""
    install_placements(shop)


def explain_visit(
    shop: Shop,
    snap: Snapshot,
    url: str,
    *,
    country: str | None = None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    parts = urlsplit(url)
    path = parts.path or "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    edge = shop.edge
    if country:
        # As if a trusted CDN said so: the same path the server takes for CF-IPCountry.
        hdrs[edge.country_headers[0]] = country
        edge = dataclasses.replace(edge, proxies=TrustedProxies([EXPLAIN_PEER]))
    # Shown in the shop's time zone, the one rules and schedules are written in.
    now = (now or datetime.now(UTC)).astimezone(shop.tz)
    visitor = shop.codec.decode(cookie) if cookie else None
    cookie_note = "no cookie: a new visitor"
    if cookie and visitor is None:
        cookie_note = "cookie did not verify (tampered, expired or another secret): a new visitor"
    elif visitor is not None:
        cookie_note = f"visitor {visitor.id}, session {visitor.sessions}"
    visitor = visitor or Visitor.fresh(int(now.timestamp()))
    facts = RequestFacts(EXPLAIN_PEER, hdrs, query, {}, path)
    visit = assemble_visit(shop, snap, facts, visitor, consent=True, now=now, edge=edge)
    placement_name = placement_for(path, visit.campaign.present, shop.settings.landing_prefix)
    if placement_name == "out-of-stock":
        from shopwindow.placements.outofstock import explain_product

        explain_product(visit, snap.catalog, path, query)
    placement = snap.rules.placement(placement_name)
    considered = []
    winner: Rule | None = None
    for why in placement.why(visit.ctx):
        rule = why.rule
        entry = _explain_rule(why, visit)
        # a held-out visitor falls through to the next rule, as Placement.decide does
        if winner is None and entry["matched"] and entry.get("variant") != HOLDOUT:
            winner = rule
            entry["winner"] = True
        considered.append(entry)
    decision = snap.rules.decide(placement_name, visit.ctx, visitor.id, assigned=visitor.buckets)
    answer: dict[str, Any] = {"placement": placement_name, "rules": decision.labels}
    if placement_name == "homepage":
        from shopwindow.pages.storefront import decide_homepage

        decision, target = decide_homepage(snap, visit)
        answer = {"placement": placement_name, "rules": decision.labels, "redirect": target}
    else:
        answer["then"] = dict(decision.then)
    # A placement may say what its answer would show (the landing page's filter, a drop's date).
    describe = shop.hooks.explain.get(placement_name)
    if describe is not None:
        answer["shows"] = describe(shop, snap, visit)
        # What answers before the rules (a shoppable post) names itself in X-Shopwindow-Rules.
        if "decided_by" in answer["shows"]:
            answer["rules"] = list(answer["shows"].pop("decided_by"))
    ctx = {k: _plain(v) for k, v in visit.ctx.items()}
    report: dict[str, Any] = {
        "url": url,
        "time": now.isoformat(),
        "visitor": cookie_note,
        "context": ctx,
        "considered": considered,
        "answer": answer,
    }
    report["text"] = _text(report, visit)
    return report


def _explain_rule(why: Why, visit: Visit) -> dict[str, Any]:
    ctx = visit.ctx
    rule = why.rule
    if why.failed is not None:
        return {
            "rule": rule.id,
            "where": rule.where,
            "matched": False,
            "failed": why.failed.text,
            "actual": _plain(why.actual),
        }
    entry: dict[str, Any] = {"rule": rule.id, "where": rule.where, "matched": True}
    if rule.placement == "homepage":
        entry["path"] = fill_path(rule.then.get("path", "/"), ctx)
        if entry["path"] is None:
            entry["matched"] = False
            entry["failed"] = "path placeholder has no value for this visitor"
    if rule.split is not None:
        variant = rule.split.assign(visit.visitor.id, visit.visitor.buckets.get(rule.id))
        entry["variant"] = variant.name if variant else HOLDOUT
    return entry


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _text(report: dict[str, Any], visit: Visit) -> str:
    lines = [
        f"URL: {report['url']}",
        f"time: {report['time']}",
        f"visitor: {report['visitor']}",
        f"country: {visit.country} ({visit.country_source}), device: {visit.device}, channel: {visit.channel}",
        f"placement: {report['answer']['placement']}",
        "",
        "rules, in the order they are tried:",
    ]
    for entry in report["considered"]:
        if entry["matched"]:
            mark = "WINS " if entry.get("winner") else "match"
            extra = f" variant {entry['variant']}" if "variant" in entry else ""
            lines.append(f"  {mark} {entry['rule']} ({entry['where']}){extra}")
        else:
            lines.append(
                f"  no    {entry['rule']} ({entry['where']}): {entry['failed']}; actual: {entry.get('actual')!r}"
            )
    if not report["considered"]:
        lines.append("  (no rules in this placement)")
    answer = report["answer"]
    lines.append("")
    lines.append(f"answer: X-Shopwindow-Rules: {', '.join(answer['rules']) or '(none)'}")
    if "redirect" in answer:
        lines.append(f"        302 -> {answer['redirect']}")
    elif answer.get("then"):
        lines.append(f"        then: {answer['then']}")
    for key, value in answer.get("shows", {}).items():
        lines.append(f"        {key}: {value}")
    return "\n".join(lines)
