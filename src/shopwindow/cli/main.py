"""The `shopwindow` command: serve, check, explain, campaigns, catalog, docs."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from shopwindow import settings as settings_mod
from shopwindow.settings import DEV_SECRET, Settings, SettingsError

if TYPE_CHECKING:
    from shopwindow.catalog.feed import Catalog, CatalogError

F = TypeVar("F", bound=Callable[..., Any])


def _load(ctx_obj: dict[str, Any], **cli: Any) -> Settings:
    try:
        return settings_mod.load(cli, config=ctx_obj.get("config"))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def echo_text(text: str) -> None:
    """Prints text ending in exactly one newline, whatever it ended with."""
    click.echo(text.rstrip("\n"))


def shop_time(settings: Settings, epoch: float) -> str:
    """A moment as the shop's staff read it: in the shop's time zone, with its offset."""
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(epoch, ZoneInfo(settings.timezone)).isoformat(timespec="seconds")


def setting_options(*names: str) -> Callable[[F], F]:
    """CLI flags generated from the settings declarations, so both stay one list."""

    def decorate(fn: F) -> F:
        for name in reversed(names):
            s = settings_mod.BY_NAME[name]
            assert s.flag, name
            kwargs: dict[str, Any] = {"help": s.help, "default": None}
            if s.type == "bool":
                fn = click.option(s.flag, name, is_flag=True, default=None, help=s.help)(fn)
                continue
            if s.type == "list":
                kwargs["multiple"] = True
            elif s.type == "int":
                kwargs["type"] = int
            elif s.type == "choice":
                kwargs["type"] = click.Choice(s.choices)
            fn = click.option(s.flag, name, **kwargs)(fn)
        return fn

    return decorate


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="settings file (default: shopwindow.toml in the rules folder)",
)
@click.version_option(package_name="shopwindow")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """shopwindow: landing-page personalization at the edge."""
    ctx.obj = {"config": config}


@main.command()
@setting_options(
    "rules",
    "catalog",
    "geoip",
    "templates",
    "reload",
    "host",
    "port",
    "workers",
    "server",
    "dev",
    "trusted_proxies",
    "allowed_hosts",
    "default_country",
    "timezone",
    "homepage_mode",
    "languages",
    "consent_cookie",
    "origin",
    "origin_paths",
    "origin_exclude",
    "redis",
    "profile_db",
)
@click.pass_obj
def serve(obj: dict[str, Any], /, **cli: Any) -> None:
    """Serve the shop (the bundled demo shop when given nothing)."""
    settings = _load(obj, **cli)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if settings.secret == DEV_SECRET:
        click.echo(
            "warning: SHOPWINDOW_SECRET is not set; cookies are signed with the dev secret",
            err=True,
        )
    if not settings.identity_secret:
        click.echo(
            "warning: SHOPWINDOW_IDENTITY_SECRET is not set; identify is off (no device is"
            " linked to a customer profile; docs/profiles.md)",
            err=True,
        )
    from shopwindow.rules.lastgood import LastGoodRules
    from shopwindow.shop import Shop
    from shopwindow.visitor.geo import GeoIPError

    # Workers started later (a crashed one replaced, a SIGHUP restart) begin from the
    # last rules that compiled if an edit on disk is broken by then.
    try:
        shop = Shop(settings, LastGoodRules.for_this_run())
    except GeoIPError as exc:
        click.echo(f"refusing to start: {exc}", err=True)
        sys.exit(1)
    errors = shop.load()
    if shop.start_refused:
        shop.stop()
        click.echo(f"refusing to start: {shop.start_refused}", err=True)
        sys.exit(1)
    if errors:
        for line in errors:
            click.echo(line, err=True)
        click.echo(f"refusing to start: {len(errors)} error(s) in the rules", err=True)
        sys.exit(1)
    shop.stop()
    run_server(settings)


def run_server(settings: Settings) -> None:
    os.environ["SHOPWINDOW_SETTINGS_JSON"] = orjson.dumps(dict(settings.values)).decode()
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shopwindow-metrics-")
    click.echo(
        f"shopwindow serving on http://{settings.host}:{settings.port}"
        f" ({settings.server}, {settings.workers} worker{'s' if settings.workers > 1 else ''})",
        err=True,
    )
    from shopwindow.serve import httpserver

    if settings.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "shopwindow.app:from_environment",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            factory=True,
            log_access=False,
            **httpserver.granian_options(settings),
        ).serve()
        return
    import uvicorn

    uvicorn.run("shopwindow.app:from_environment", **httpserver.uvicorn_options(settings))


@main.command()
@click.argument("folder", required=False)
@click.option(
    "--catalog", "catalog", default=None, help="product feed to check product ids against"
)
@click.option(
    "--templates",
    "templates",
    default=None,
    help="templates folder to check template names against",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_obj
def check(
    obj: dict[str, Any],
    folder: str | None,
    catalog: str | None,
    templates: str | None,
    as_json: bool,
) -> None:
    """Validate rule files: every error as file:line:column, exit 1 when any."""
    settings = _load(obj, rules=folder, catalog=catalog, templates=templates)
    from shopwindow.catalog.feedguard import refusal
    from shopwindow.rules.rulefiles import fingerprint
    from shopwindow.shop import compile_all, read_feed

    # A feed or templates folder that is not there is reported, and the rules are
    # still checked (without what it would have told).
    missing: list[str] = []
    cat = None
    if settings.catalog:
        cat, cat_errors, problem = read_feed(settings.catalog, settings)
        # The same words the server would start (or refuse to start) with.
        refused = refusal(settings.catalog, cat, problem, cat_errors, None, 100)
        if refused:
            missing.append(f"{settings.named('catalog')}: {refused}")
            cat = None
        else:
            for row_error in cat_errors:
                click.echo(f"{row_error} (row skipped)", err=True)
    for skipped in fingerprint(settings.rules).skipped:
        click.echo(f"{skipped} (skipped)", err=True)
    if settings.templates and not os.path.isdir(settings.templates):
        # Every template name would be reported unknown: the folder is named instead.
        missing.append(f"{settings.named('templates')}: no such folder: {settings.templates}")
        settings = settings.replace(templates="")
    ruleset, errors = compile_all(settings, cat)
    if cat is not None:
        from shopwindow.rules.rulefiles import CATALOG_CHECKS

        errors = sorted([*errors, *(e for check in CATALOG_CHECKS for e in check(ruleset, cat))])
    rules = ruleset.all_rules()
    if as_json:
        body = {
            "ok": not (errors or missing),
            "errors": [
                *({"file": None, "line": None, "column": None, "message": m} for m in missing),
                *(dataclasses.asdict(e) for e in errors),
            ],
            "rules": len(rules),
            "files": len(ruleset.files),
            "placements": len(ruleset.placements),
        }
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        sys.exit(1 if errors or missing else 0)
    for line in [*missing, *map(str, errors)]:
        click.echo(line)
    if errors or missing:
        click.echo(f"{len(errors) + len(missing)} error(s) in {settings.rules}", err=True)
        sys.exit(1)
    markets = ruleset.data.get("markets")
    if markets is None:
        click.echo("no markets declared: each country has a store of its own (/de/, /fr/, ...)")
    else:
        stores = ", ".join(f"/{m.prefix}/ {m.currency}" for m in markets.markets)
        click.echo(f"{len(markets.markets)} markets: {stores}")
    click.echo(
        f"ok: {len(rules)} rules in {len(ruleset.files)} files, {len(ruleset.placements)} placements"
    )


@main.command()
@click.option(
    "--accept-catalog",
    is_flag=True,
    help="take the product feed even if it is empty or smaller than catalog_max_loss allows",
)
@setting_options("rules")
@click.pass_obj
def reload(obj: dict[str, Any], /, accept_catalog: bool, **cli: Any) -> None:
    """Make every worker serving the rules folder re-read rules and catalog now."""
    from shopwindow.rules.reloadrequest import request_reload

    settings = _load(obj, **cli)
    request_reload(settings.rules, accept_catalog=accept_catalog)
    click.echo(
        f"reload requested for {settings.rules}; /readyz shows the result within a second",
        err=True,
    )


@main.command()
@click.argument("url")
@click.option(
    "--country", default=None, help="the visitor's country (as a trusted CDN header would say)"
)
@click.option("--cookie", default=None, help="the visitor cookie's value")
@click.option("--header", "headers", multiple=True, help="'Name: value', repeatable")
@click.option("--time", "moment", default=None, help="ISO time of the visit (default: now)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--rules", default=None, help="rules folder")
@click.option("--catalog", default=None, help="product feed")
@click.pass_obj
def explain(
    obj: dict[str, Any],
    url: str,
    country: str | None,
    cookie: str | None,
    headers: tuple[str, ...],
    moment: str | None,
    as_json: bool,
    rules: str | None,
    catalog: str | None,
) -> None:
    """Show what a visitor would get for URL, and why."""
    from shopwindow.cli.explain import explain_url

    settings = _load(obj, rules=rules, catalog=catalog)
    when = None
    if moment:
        try:
            when = datetime.fromisoformat(moment)
        except ValueError:
            raise click.ClickException(f"--time {moment!r} is not an ISO date-time") from None
        if when.tzinfo is None:
            from zoneinfo import ZoneInfo

            when = when.replace(tzinfo=ZoneInfo(settings.timezone))
    header_map: dict[str, str] = {}
    for h in headers:
        name, sep, value = h.partition(":")
        if not sep:
            raise click.ClickException(f"--header {h!r} must look like 'Name: value'")
        header_map[name.strip().lower()] = value.strip()
    try:
        report = explain_url(
            settings, url, country=country, cookie=cookie, headers=header_map, now=when
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str).decode())
        return
    click.echo(report["text"])


@main.command()
@click.option(
    "--unmatched",
    is_flag=True,
    help="list ad campaigns no landing rule matched, most clicked first",
)
@click.option("--rules", default=None, help="rules folder")
@click.option("--limit", type=int, default=100, show_default=True, help="rows to show")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_obj
def campaigns(
    obj: dict[str, Any], unmatched: bool, rules: str | None, limit: int, as_json: bool
) -> None:
    """Landing pages: the rules that answer ads, or (--unmatched) the ads that need one."""
    settings = _load(obj, rules=rules)
    if not unmatched:
        from shopwindow.shop import compile_all

        ruleset, errors = compile_all(settings, None)
        for error in errors:
            click.echo(str(error), err=True)
        landing = ruleset.placement("landing-pages").rules
        if as_json:
            answers = [
                {"rule": r.id, "where": r.where, "when": [c.text for c in r.conditions]}
                for r in landing
            ]
            click.echo(orjson.dumps(answers, option=orjson.OPT_INDENT_2).decode())
            return
        for rule in landing:
            when = "; ".join(c.text for c in rule.conditions) or "(every campaign)"
            click.echo(f"{rule.id} ({rule.where}): {when}")
        click.echo("(`shopwindow campaigns --unmatched` lists the ads no rule matched)", err=True)
        return
    from shopwindow.stats.unmatched import as_table, default_path, read_unmatched

    path = settings.campaigns_db or default_path(settings.rules, settings.profile_db)
    rows = read_unmatched(path, limit)
    if as_json:
        data = [{**dataclasses.asdict(row.key), "clicks": row.count,
                 "first_seen": row.first_seen, "last_seen": row.last_seen} for row in rows]  # fmt: skip
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(as_table(rows))


@main.group()
def catalog() -> None:
    """Product feed tools."""


@catalog.command("check")
@click.argument("feed", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_obj
def catalog_check(obj: dict[str, Any], feed: str, as_json: bool) -> None:
    """Read a product feed as the shop would: its format, products, and every skipped row."""
    from shopwindow.catalog.formats import FORMAT_NAMES

    settings = _load(obj)
    try:
        cat, errors = _load_feed(settings, feed)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{feed}: {exc}") from None
    errors.sort(key=lambda e: e.line)
    if as_json:
        report = {
            "format": cat.feed_format,
            "products": len(cat),
            "variants": len(cat.aliases),
            "skipped": [{"line": e.line, "reason": e.message} for e in errors],
        }
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        for error in errors:
            click.echo(f"{error} (row skipped)")
        click.echo(
            f"{feed}: {FORMAT_NAMES.get(cat.feed_format, cat.feed_format)}, "
            f"{len(cat)} products ({len(cat.aliases)} variant ids folded in), "
            f"{len(errors)} row(s) skipped"
        )
    if errors or not len(cat):
        sys.exit(1)


def _load_feed(settings: Settings, path: str) -> tuple[Catalog, list[CatalogError]]:
    from shopwindow.catalog.categorymap import load_category_map
    from shopwindow.catalog.feed import load_catalog

    categories = load_category_map(settings.catalog_categories)
    return load_catalog(path, categories=categories, currency=settings.catalog_currency)


@catalog.command("generate")
@click.option("--products", "count", type=int, default=100_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
def catalog_generate(count: int, seed: int, out: str) -> None:
    """Write a large synthetic catalog (JSON Lines) for benchmarks."""
    from shopwindow.catalog.generate import generate_catalog, write_jsonl

    n = write_jsonl(generate_catalog(count, seed), out)
    click.echo(f"wrote {n} products to {out}")


@main.group()
def docs() -> None:
    """Generated documentation."""


@docs.command("settings")
def docs_settings() -> None:
    """Print docs/settings.md."""
    echo_text(settings_mod.markdown())


@docs.command("schema")
def docs_schema() -> None:
    """Print the JSON Schema of rule files."""
    from shopwindow.rules.schema import rule_file_schema

    click.echo(orjson.dumps(rule_file_schema(), option=orjson.OPT_INDENT_2).decode())


@main.command()
@click.option(
    "--since", default=None, help="only visitors first exposed on or after DATE (YYYY-MM-DD)"
)
@click.option("--rule", "rule_id", default=None, help="only this rule")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def stats(
    obj: dict[str, Any], /, since: str | None, rule_id: str | None, as_json: bool, **cli: Any
) -> None:
    """Per rule and variant: exposures, clicks, conversions, lift and significance."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from shopwindow.shop import compile_all
    from shopwindow.stats import results
    from shopwindow.stats.open_store import open_store
    from shopwindow.stats.store import StatsLimits

    settings = _load(obj, **cli)
    if since is not None:
        try:
            since = date.fromisoformat(since).isoformat()
        except ValueError:
            raise click.ClickException(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
    ruleset, _ = compile_all(settings, None)  # a broken edit still leaves the rules that compile
    try:
        store = open_store(
            settings, StatsLimits.from_settings(settings, ZoneInfo(settings.timezone))
        )
        try:
            totals = store.totals(since, rule_id)
        finally:
            store.close()
    except Exception as exc:
        raise click.ClickException(f"cannot read the stats store: {exc}") from None
    thresholds = results.Thresholds(settings.stats_min_visitors, settings.stats_confidence)
    experiments = results.build(totals, ruleset, thresholds)
    if as_json:
        body = results.to_json(experiments, thresholds, since=since, rule=rule_id)
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    cohort = f"visitors first exposed since {since}" if since else "all visitors"
    click.echo(f"experiment results ({cohort})\n")
    echo_text(results.to_text(experiments, thresholds))


@main.command()
@click.option("--visitor", default=None, help="the visitor id (see --cookie)")
@click.option("--cookie", default=None, help="the visitor cookie's value, instead of --visitor")
@click.option("--customer", default=None, help="the customer id the site identified")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def decisions(
    obj: dict[str, Any],
    /,
    visitor: str | None,
    cookie: str | None,
    customer: str | None,
    limit: int,
    as_json: bool,
    **cli: Any,
) -> None:
    """The decision log: which rules answered a visitor, and the context they read."""
    from zoneinfo import ZoneInfo

    from shopwindow.stats.open_store import open_store
    from shopwindow.stats.store import StatsLimits
    from shopwindow.visitor.cookie import CookieCodec

    settings = _load(obj, **cli)
    if cookie is not None:
        decoded = CookieCodec(
            settings.secret, settings.cookie_days, fallbacks=settings.secret_fallbacks
        ).decode(cookie)
        if decoded is None:
            raise click.ClickException("the cookie does not verify (another secret, or tampered)")
        visitor = decoded.id
    try:
        store = open_store(
            settings, StatsLimits.from_settings(settings, ZoneInfo(settings.timezone))
        )
        try:
            traces = store.traces(visitor, customer, limit)
        finally:
            store.close()
    except Exception as exc:
        raise click.ClickException(f"cannot read the stats store: {exc}") from None
    if as_json:
        out = [t.to_json() for t in traces]
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    if not traces:
        click.echo("no decisions logged for that (the log keeps a sample of visitors)")
        return
    for trace in traces:
        when = shop_time(settings, trace.at)
        click.echo(f"{when}  visitor {trace.visitor}  {trace.placement}  {trace.path}")
        click.echo(f"  X-Shopwindow-Rules: {', '.join(trace.labels)}")
        for rule, about in trace.rules.items():
            variant = f" (variant {about['variant']})" if about.get("variant") else ""
            where = f" at {about['where']}" if about.get("where") else ""
            click.echo(f"  {rule}{variant}{where}")
            for key, value in (about.get("read") or {}).items():
                click.echo(f"      {key} = {value!r}")
            for other in about.get("passed_over") or ():
                if other.get("matched"):
                    click.echo(f"    passed over {other['rule']}: matched, but held out or capped")
                else:
                    click.echo(
                        f"    passed over {other['rule']}: {other['failed']}; actual: {other['actual']!r}"
                    )
        click.echo("")


@main.group("import")
def import_group() -> None:
    """Bring data from other systems into the profile store."""


@import_group.command("purchases")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="file format (default: from the file name; .jsonl/.ndjson is JSON Lines, else CSV)",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="read an export column as a shopwindow field, e.g. --map Kundennummer=customer_id",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def import_purchases(
    obj: dict[str, Any],
    /,
    file: str,
    fmt: str | None,
    maps: tuple[str, ...],
    quiet: bool,
    **cli: Any,
) -> None:
    """Import store (POS) or CRM purchases from FILE, CSV or JSON Lines.

    Default columns: customer_id, email, product_id, price, full_price, store,
    timestamp (and optionally order_id). Bad rows are printed as file:line: reason
    and the rest imports (exit status 1 when there were any); importing the same
    file again adds nothing.
    """
    from zoneinfo import ZoneInfo

    from shopwindow.profiles.open_store import open_store
    from shopwindow.profiles.purchases import ImportFileError, import_file, parse_mapping
    from shopwindow.profiles.store import StoreUnavailable

    settings = _load(obj, **cli)
    try:
        mapping = parse_mapping(maps)
    except ImportFileError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        size = os.path.getsize(file)
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror}") from None
    store = open_store(settings, for_requests=False)
    stderr = sys.stderr
    with click.progressbar(
        length=size, label="importing", file=stderr, hidden=quiet or not stderr.isatty()
    ) as bar:
        done = 0

        def progress(position: int) -> None:
            nonlocal done
            bar.update(position - done)
            done = position

        def bad(row: Any) -> None:
            click.echo(str(row))

        try:
            report = import_file(
                store,
                file,
                secret=settings.secret,
                tz=ZoneInfo(settings.timezone),
                fmt=fmt,
                mapping=mapping,
                on_bad=bad,
                on_progress=progress,
            )
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        except StoreUnavailable as exc:
            raise click.ClickException(f"profile store: {exc}") from None
        finally:
            store.close()
    click.echo(
        f"{report.rows} rows: {report.added} added, {report.duplicates} already there, "
        f"{report.bad} bad ({report.rows_per_second:,.0f} rows/s, {store.name})",
        err=True,
    )
    if report.bad:
        sys.exit(1)


@main.group()
def profile() -> None:
    """Customer profiles in the profile store."""


@profile.command("show")
@click.argument("who", metavar="CUSTOMER_ID_OR_EMAIL", required=False)
@click.option("--email", default=None, help="find the customer by email (stored only as a hash)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default=None,
    help="text: the staff view's picture; json: the stored record (default: text on a"
    " terminal, json when piped)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (--format json)")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def profile_show(
    obj: dict[str, Any],
    /,
    who: str | None,
    email: str | None,
    fmt: str | None,
    as_json: bool,
    **cli: Any,
) -> None:
    """What the profile store knows of a customer: the staff view's picture, or JSON.

    CUSTOMER_ID_OR_EMAIL is a customer id, or an email address (found by its keyed hash).
    """
    from shopwindow.profiles.open_store import open_store
    from shopwindow.profiles.store import StoreUnavailable, customer_for_email_address

    if bool(who) == bool(email):
        raise click.UsageError("give a CUSTOMER_ID, an EMAIL or --email, one of them")
    settings = _load(obj, **cli)
    store = open_store(settings, for_requests=False)
    try:
        customer_id = who
        if email is None and who is not None and _looks_like_email(who):
            # An email, unless the store knows a customer by exactly this id.
            found = customer_for_email_address(store, who, settings)
            customer_id = found if found is not None and store.get(who) is None else who
        elif email:
            customer_id = customer_for_email_address(store, email, settings)
            if customer_id is None:
                raise click.ClickException("no customer with that email")
        assert customer_id is not None
        found_profile = store.get(customer_id)
        orders = store.orders(customer_id) if found_profile is not None else []
    except StoreUnavailable as exc:
        raise click.ClickException(f"profile store: {exc}") from None
    finally:
        store.close()
    if found_profile is None:
        if who is not None and _looks_like_email(who):
            raise click.ClickException("no customer with that email or id")
        raise click.ClickException(f"no profile for customer {customer_id!r}")
    view = _customer_view(settings, found_profile, orders)
    if as_json:
        fmt = "json"
    elif fmt is None:
        fmt = "text" if sys.stdout.isatty() else "json"
    if fmt == "text":
        echo_text(view.to_text())
        return
    data = found_profile.to_json()
    picture = view.to_json()
    data["order_history"] = picture["orders"]
    data["open_offer"] = picture["offer"]
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _looks_like_email(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain)


def _customer_view(settings: Settings, found: Any, orders: Any) -> Any:
    """The staff view's picture, from the shop's rules and catalog (the offer needs the rules)."""
    import time

    from shopwindow.cli.explain import attach_placements
    from shopwindow.profiles.associate import CustomerView, customer_view
    from shopwindow.profiles.service import context_hook
    from shopwindow.shop import Shop

    shop = Shop(settings)
    errors = shop.load()
    snap = shop.snapshot
    if errors or snap is None:
        # The record is still worth printing without the rules: the offer is unknown.
        from shopwindow.catalog.feed import build_catalog

        click.echo("rules or catalog do not load: the open offer is not shown", err=True)
        return CustomerView(found.customer_id, found, tuple(orders), build_catalog([]), shop.tz)
    attach_placements(shop)  # as `explain` does: the popup rules and their context hooks
    try:
        return customer_view(shop, snap, found, orders, int(time.time()), skip=(context_hook,))
    finally:
        shop.stop()


@main.group()
def staff() -> None:
    """The store associate's view (GET /_sw/staff) and who used it."""


@staff.command("access")
@click.option("--customer", default=None, help="only accesses to this customer id")
@click.option("--who", default=None, help="only accesses by this person")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def staff_access(
    obj: dict[str, Any],
    /,
    customer: str | None,
    who: str | None,
    limit: int,
    as_json: bool,
    **cli: Any,
) -> None:
    """The staff view's access table: who opened which customer, when, from where."""
    from shopwindow.profiles.staffaccess import open_access_log
    from shopwindow.profiles.store import StoreUnavailable

    settings = _load(obj, **cli)
    log = open_access_log(settings)
    try:
        entries = log.recent(customer, who, limit)
    except StoreUnavailable as exc:
        raise click.ClickException(f"access table: {exc}") from None
    finally:
        log.close()
    if as_json:
        out = [e.to_json() for e in entries]
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    if not entries:
        click.echo("no staff accesses recorded")
        return
    for e in entries:
        data = e.to_json()
        shown = data["customer_id"] or "(no match)"
        when = shop_time(settings, e.at)
        click.echo(f"{when}  {e.who}  customer {shown}  via {e.via}  from {e.peer}")


@profile.command("forget")
@click.argument("customer_id")
@setting_options("rules", "redis", "profile_db")
@click.pass_obj
def profile_forget(obj: dict[str, Any], /, customer_id: str, **cli: Any) -> None:
    """Erase everything the profile store holds on a customer (right to erasure)."""
    from shopwindow.profiles.open_store import open_store
    from shopwindow.profiles.store import StoreUnavailable

    settings = _load(obj, **cli)
    store = open_store(settings, for_requests=False)
    try:
        erased = store.forget(customer_id)
    except StoreUnavailable as exc:
        raise click.ClickException(f"profile store: {exc}") from None
    finally:
        store.close()
    if not erased:
        raise click.ClickException(f"no profile for customer {customer_id!r}")
    click.echo(f"erased customer {customer_id}")


@main.group()
def drops() -> None:
    """Scheduled drops and the customers waiting for them."""


@drops.command("reminders")
@click.option("--drop", "drop_id", default=None, help="only this drop (its rule id)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@setting_options("rules", "redis", "profile_db", "timezone")
@click.pass_obj
def drops_reminders(obj: dict[str, Any], /, drop_id: str | None, as_json: bool, **cli: Any) -> None:
    """Customers who asked to be reminded of a drop, for the shop's email tool."""
    from zoneinfo import ZoneInfo

    from shopwindow.profiles.open_store import open_store
    from shopwindow.profiles.store import StoreUnavailable

    settings = _load(obj, **cli)
    zone = ZoneInfo(settings.timezone)
    store = open_store(settings, for_requests=False)
    try:
        found = store.reminders(drop_id)
    except StoreUnavailable as exc:
        raise click.ClickException(f"profile store: {exc}") from None
    finally:
        store.close()
    rows = [
        {**r.to_json(), "asked": datetime.fromtimestamp(r.at, zone).isoformat(timespec="seconds")}
        for r in found
    ]
    if as_json:
        click.echo(orjson.dumps({"reminders": rows}, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        click.echo("no drop reminders recorded")
        return
    for row in rows:
        click.echo(f"{row['drop']}  {row['customer_id']}  asked {row['asked']}")
