"""The running service's state: settings, rules, catalog, templates; reloaded as one snapshot."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from shopwindow.catalog.categorymap import load_category_map
from shopwindow.catalog.feed import Catalog, CatalogError, build_catalog, load_catalog
from shopwindow.catalog.feedguard import refusal
from shopwindow.catalog.marketcatalog import market_catalog
from shopwindow.derived import Derived
from shopwindow.hooks import Hooks, Services
from shopwindow.rules import reloadrequest
from shopwindow.rules.errors import RuleError
from shopwindow.rules.lastgood import LastGoodRules
from shopwindow.rules.rulefiles import Fingerprint, fingerprint, load_rules
from shopwindow.rules.rules import RuleSet
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.serve import heap, metrics
from shopwindow.serve.throttle import TokenThrottle
from shopwindow.settings import Settings
from shopwindow.visitor.context import Edge
from shopwindow.visitor.cookie import CookieCodec
from shopwindow.visitor.events import Weights, weights_from
from shopwindow.visitor.geo import DEFAULT_COUNTRY_HEADERS, GeoIP
from shopwindow.visitor.identity import identity_of
from shopwindow.visitor.network import TrustedProxies

log = logging.getLogger("shopwindow")


class ShopTemplates(jinja2.Environment):
    """Jinja's environment, each template's globals one flat dict instead of a ChainMap.

    Jinja layers a template's globals over the environment's in a ChainMap that
    every render and include walks; shopwindow sets no global after start, so a
    flat copy holds the same names and costs a few µs less per rendered part.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **d} if d else dict(self.globals)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Rules and catalog that belong together; a request reads one snapshot throughout."""

    rules: RuleSet
    catalog: Catalog
    catalog_errors: tuple[CatalogError, ...] = ()
    pending_errors: tuple[
        RuleError, ...
    ] = ()  # errors of a broken edit, while the last good rules serve
    rules_print: Fingerprint = field(default_factory=lambda: Fingerprint(()))
    catalog_mtime: float = 0.0
    catalog_refused: str = ""  # why the feed on disk is not the one serving
    removed_rules: tuple[str, ...] = ()  # rule ids the last reload took away
    market: str = ""  # a market's view of the shop (its prefix); "" for the shop's own
    # Worked out from this snapshot and dropped with it; never copied to another
    # (a market's view, made with dataclasses.replace, starts its own).
    derived: Derived = field(default_factory=Derived, init=False, repr=False, compare=False)


def template_names(folder: str) -> frozenset[str]:
    root = Path(folder)
    if not root.is_dir():
        return frozenset()
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*.html"))


def check_env(catalog: Catalog | None, templates: str) -> CheckEnv:
    return CheckEnv(
        catalog=catalog,
        categories=catalog.categories if catalog is not None else None,
        templates=template_names(templates) if templates else None,
        brands=catalog_brands(catalog) if catalog is not None else None,
    )


def catalog_brands(catalog: Catalog) -> frozenset[str]:
    """The brands the feed's products are tagged with (`brand:acme`)."""
    return frozenset(
        tag[len("brand:") :]
        for product in catalog.products.values()
        for tag in product.tags
        if tag.startswith("brand:")
    )


def compile_all(
    settings: Settings, catalog: Catalog | None, folder: str | None = None
) -> tuple[RuleSet, list[RuleError]]:
    """The rules folder (or `folder`, one version of it) compiled against catalog."""
    return load_rules(
        folder or settings.rules,
        ZoneInfo(settings.timezone),
        check_env(catalog, settings.templates),
        settings.rule_file_max_bytes,
    )


def reload_mode(settings: Settings) -> str:
    """The reload mode in force: watch (each saved file) or trigger (explicit, or a folder swap)."""
    mode = str(settings.reload)
    if mode == "auto":
        return "trigger" if settings.env == "production" else "watch"
    return mode


def read_feed(
    path: str, settings: Settings | None = None
) -> tuple[Catalog | None, list[CatalogError], str]:
    """(catalog, row errors, why it is None): the feed read, never raising; `settings`
    bring the shop's category map and currency."""
    if not path:
        return build_catalog([]), [], ""
    try:
        if settings is None:
            catalog, errors = load_catalog(path)
        else:
            catalog, errors = load_catalog(
                path,
                categories=load_category_map(settings.catalog_categories),
                currency=settings.catalog_currency,
            )
    except (OSError, ValueError) as exc:
        return None, [], str(exc)
    return catalog, errors, ""


class Shop:
    """Built once per worker; `snapshot` is swapped whole by the reloader."""

    def __init__(self, settings: Settings, last_good: LastGoodRules | None = None) -> None:
        self.settings = settings
        # The last rule files that compiled: for a new catalog while an edit is broken,
        # and (under `serve`) for workers that start later.
        self.last_good = last_good or LastGoodRules()
        self.tz: tzinfo = ZoneInfo(settings.timezone)
        self.codec = CookieCodec(
            settings.secret, settings.cookie_days, fallbacks=settings.secret_fallbacks
        )
        self.identity = identity_of(settings)
        self.weights: Weights = weights_from(settings)
        self.geoip = GeoIP(settings.geoip) if settings.geoip else None
        self.edge = Edge(
            proxies=TrustedProxies(settings.trusted_proxies),
            geoip=self.geoip,
            country_headers=tuple(h.lower() for h in settings.country_headers)
            or DEFAULT_COUNTRY_HEADERS,
            default_country=settings.default_country.upper(),
            own_hosts=frozenset(h.lower() for h in settings.allowed_hosts),
            timezone=self.tz,
            lead=settings.affinity_lead,
            cart_cookie=settings.cart_cookie,
            consent_cookie=settings.consent_cookie,
            consent_decline=frozenset(v.lower() for v in settings.consent_decline),
            honour_gpc=settings.honour_gpc,
            dev=settings.dev,
        )
        self.templates = ShopTemplates(
            loader=jinja2.FileSystemLoader(settings.templates),
            autoescape=True,
            auto_reload=False,
            cache_size=400,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.mode = reload_mode(settings)
        # The snapshot and each market's view of it (its prices), swapped as one.
        self.current: tuple[Snapshot | None, Mapping[str, Snapshot]] = (None, {})
        self.start_refused = ""  # set when load() refuses the feed: nothing serves without one
        self.reloading = False  # files being read and compiled (off the event loop) right now
        self._request = reloadrequest.request_path(settings.rules)
        self._request_seen = reloadrequest.stamp(self._request)
        # Wrong staff, stats and identity tokens, counted per address (serve/throttle.py).
        self.token_throttle = TokenThrottle(
            settings.token_attempts, float(settings.token_lockout_seconds)
        )
        # Filled by the placements' install functions (app.install_placements).
        self.hooks = Hooks()
        self.services = Services()
        self._stop = threading.Event()
        self._reload_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        return self.current[0]

    @snapshot.setter
    def snapshot(self, snap: Snapshot | None) -> None:
        views: Mapping[str, Snapshot] = {}
        markets = snap.rules.data.get("markets") if snap is not None else None
        if snap is not None and markets is not None:
            views = {
                m.prefix: replace(
                    snap,
                    catalog=market_catalog(snap.catalog, m, self.settings.rules),
                    market=m.prefix,
                )
                for m in markets.markets
            }
        self.current = (snap, views)

    def serves(self, snap: Snapshot) -> bool:
        """Whether `snap` is the live snapshot or one of its markets' views of it."""
        live, views = self.current
        return snap is live or any(view is snap for view in views.values())

    @property
    def ready(self) -> bool:
        return self.snapshot is not None

    def load(self) -> list[str]:
        """First load: every error as text; the shop is ready only when there are none."""
        catalog, catalog_errors, problem = read_feed(self.settings.catalog, self.settings)
        refused = self.settings.catalog and refusal(
            self.settings.catalog, catalog, problem, catalog_errors, None, 100
        )
        if refused or catalog is None:
            self.start_refused = refused or problem
            return [self.start_refused]
        for err in catalog_errors:
            log.warning("catalog: %s", err)
        rules_print = fingerprint(self.settings.rules)
        for skipped in rules_print.skipped:
            log.warning("rule file skipped: %s", skipped)
        ruleset, errors = compile_all(self.settings, catalog, rules_print.folder)
        pending: tuple[RuleError, ...] = ()
        if errors:
            fallback = self._last_good_rules(catalog)
            if fallback is None:
                return [str(e) for e in errors]
            # A broken edit is on disk, but the service's last good rules are known:
            # start from them, and report the edit as the running workers do.
            for rule_error in errors:
                log.error("rules on disk are broken, serving the last good ones: %s", rule_error)
            ruleset, pending = fallback, tuple(errors)
            metrics.RULE_ERRORS.set(len(errors))
        else:
            self.last_good.save(self.settings.rules, rules_print)
            metrics.loaded("rules")
        metrics.loaded("catalog")
        self.snapshot = Snapshot(
            ruleset,
            catalog,
            tuple(catalog_errors),
            pending,
            rules_print,
            _mtime(self.settings.catalog),
        )
        return []

    def _last_good_rules(self, catalog: Catalog) -> RuleSet | None:
        folder = self.last_good.restore()
        if folder is None:
            return None
        try:
            settings = self.settings.replace(rules=folder)
            ruleset, errors = compile_all(settings, catalog)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return None if errors else ruleset

    def _read_catalog(
        self, current: Snapshot, accept: bool
    ) -> tuple[Catalog | None, list[CatalogError], str]:
        """(new catalog, its row errors, ""), or (None, [], why it is refused)."""
        path = self.settings.catalog
        fresh, errors, problem = read_feed(path, self.settings)
        refused = path and refusal(
            path,
            fresh,
            problem,
            errors,
            len(current.catalog),
            self.settings.catalog_max_loss,
            accept,
        )
        if refused or fresh is None:
            return None, [], refused or problem
        return fresh, errors, ""

    def reload_if_changed(self, force: bool = False, accept_catalog: bool = False) -> bool:
        """Pick up edits: valid ones go live, broken ones are reported and the last good rules stay.

        `force` (SIGHUP, `shopwindow reload`) re-reads everything even when no file
        looks changed; it is the only way rule edits go live in trigger mode, besides
        the rules folder's symlink pointing at a new folder. `accept_catalog` takes a
        feed the shop would refuse (empty, or smaller by more than catalog_max_loss).
        """
        with self._reload_lock:
            self.reloading = True
            try:
                return self._reload(force, accept_catalog)
            finally:
                self.reloading = False

    def _rules_due(self, seen: Fingerprint, current: Snapshot, force: bool) -> bool:
        if force or seen.folder != current.rules_print.folder:
            return True
        # Trigger mode never reads files that merely changed: they may be half-written.
        return self.mode == "watch" and seen != current.rules_print

    def _reload(self, force: bool, accept_catalog: bool = False) -> bool:
        current = self.snapshot
        if current is None:
            return False
        rules_print = fingerprint(self.settings.rules)
        catalog_mtime = _mtime(self.settings.catalog)
        rules_due = self._rules_due(rules_print, current, force)
        catalog_due = force or catalog_mtime != current.catalog_mtime
        if not rules_due and not catalog_due:
            return False
        catalog, catalog_errors = current.catalog, list(current.catalog_errors)
        catalog_refused = current.catalog_refused
        if catalog_due:
            fresh, fresh_errors, refused = self._read_catalog(current, accept_catalog)
            if fresh is not None:
                catalog, catalog_errors, catalog_refused = fresh, fresh_errors, ""
            elif refused != current.catalog_refused or catalog_mtime != current.catalog_mtime:
                catalog_refused = refused
                metrics.refused("catalog")
                log.error("catalog not reloaded, the previous one keeps serving: %s", refused)
        if not rules_due:
            if catalog is current.catalog:
                # Nothing new goes live; remember what was seen so it is not read again.
                self.snapshot = replace(
                    current, catalog_mtime=catalog_mtime, catalog_refused=catalog_refused
                )
                return False
            # A new feed: compiled with the rules that are live, never with files on disk
            # that were not asked for.
            fallback = self._last_good_rules(catalog)
            if fallback is None:
                ruleset, errors = compile_all(self.settings, catalog, current.rules_print.folder)
                if errors:
                    catalog_refused = f"the rules that are live do not work with it: {errors[0]}"
                    metrics.refused("catalog")
                    log.error("catalog not reloaded: %s", catalog_refused)
                    self.snapshot = replace(
                        current, catalog_mtime=catalog_mtime, catalog_refused=catalog_refused
                    )
                    return False
                fallback = ruleset
            self.snapshot = replace(
                current,
                rules=fallback,
                catalog=catalog,
                catalog_errors=tuple(catalog_errors),
                catalog_mtime=catalog_mtime,
                catalog_refused="",
            )
            heap.resettle()
            metrics.loaded("catalog")
            log.info("catalog reloaded: %d products", len(catalog))
            return True
        for skipped in sorted(set(rules_print.skipped) - set(current.rules_print.skipped)):
            log.warning("rule file skipped: %s", skipped)
        ruleset, errors = compile_all(self.settings, catalog, rules_print.folder)
        if self.mode == "watch" and fingerprint(self.settings.rules) != rules_print:
            return False  # edited while being read: read again once it stands still
        if errors and catalog is not current.catalog:
            # A new catalog while the rules on disk are broken: it goes live with the
            # last good rules (stock and prices must not wait for the rules' fix).
            fallback = self._last_good_rules(catalog)
            if fallback is not None:
                return self._keep_rules_new_catalog(
                    fallback, catalog, catalog_errors, errors, rules_print, catalog_mtime
                )
        if errors:
            if list(current.pending_errors) != errors:
                for err in errors:
                    log.error("rules not reloaded: %s", err)
                metrics.refused("rules")
            metrics.RELOAD_FAILURES.inc()
            metrics.RULE_ERRORS.set(len(errors))
            self.snapshot = Snapshot(
                current.rules,
                current.catalog,
                current.catalog_errors,
                tuple(errors),
                rules_print,
                current.catalog_mtime if catalog is current.catalog else catalog_mtime,
                catalog_refused,
                current.removed_rules,
            )
            return False
        removed = _removed_ids(current.rules, ruleset)
        if removed:
            # Often a deliberate deletion; in watch mode it may also be a file caught
            # cut short: either way the marketer should see which rules went.
            log.warning("rules removed by this reload: %s", ", ".join(removed))
        self.snapshot = Snapshot(
            ruleset,
            catalog,
            tuple(catalog_errors),
            (),
            rules_print,
            catalog_mtime,
            catalog_refused,
            removed,
        )
        self.last_good.save(self.settings.rules, rules_print)
        heap.resettle()
        metrics.RELOADS.inc()
        metrics.RULE_ERRORS.set(0)
        metrics.loaded("rules")
        if catalog is not current.catalog:
            metrics.loaded("catalog")
        log.info("rules reloaded: %d rules, %d products", len(ruleset.all_rules()), len(catalog))
        return True

    def _keep_rules_new_catalog(
        self,
        ruleset: RuleSet,
        catalog: Catalog,
        catalog_errors: list[CatalogError],
        errors: list[RuleError],
        rules_print: Fingerprint,
        catalog_mtime: float,
    ) -> bool:
        current = self.snapshot
        if current is None or list(current.pending_errors) != errors:
            for rule_error in errors:
                log.error("rules not reloaded: %s", rule_error)
        self.snapshot = Snapshot(
            ruleset, catalog, tuple(catalog_errors), tuple(errors), rules_print, catalog_mtime
        )
        heap.resettle()
        metrics.loaded("catalog")
        metrics.RELOAD_FAILURES.inc()
        metrics.RULE_ERRORS.set(len(errors))
        log.info("catalog reloaded with the last good rules: %d products", len(catalog))
        return False  # the edit to the rules did not go live

    def poll(self, settling: DiskState | None) -> DiskState | None:
        """One look at the files for the watcher: reload what changed once it stands still.

        An edit is read when two looks in a row find the files the same: a file
        being written (truncated, then filled) must not go live half-read. In
        trigger mode only the rules folder's target counts, never its files.
        Returns what to compare the next look with.
        """
        self._take_request()
        if self.geoip is not None:
            self.geoip.refresh()
        current = self.snapshot
        if current is None:
            return None
        rules_print = fingerprint(self.settings.rules)
        rules_seen: Fingerprint | str = rules_print
        rules_live: Fingerprint | str = current.rules_print
        if self.mode == "trigger":
            rules_seen, rules_live = rules_print.folder, current.rules_print.folder
        seen = (rules_seen, _mtime(self.settings.catalog))
        if seen == (rules_live, current.catalog_mtime):
            return None
        if seen != settling:
            return seen
        self.reload_if_changed()
        return None

    def _take_request(self) -> None:
        """A `shopwindow reload` since the last look: every worker takes it, once."""
        seen = reloadrequest.stamp(self._request)
        if seen == self._request_seen:
            return
        self._request_seen = seen
        if seen is None:
            return
        accept = reloadrequest.accepts_catalog(self._request)
        log.info("reload requested%s", " (accepting the catalog)" if accept else "")
        self.reload_if_changed(force=True, accept_catalog=accept)

    def start_watching(self, interval: float = 0.5) -> None:
        if self._watcher is not None:
            return

        def watch() -> None:
            settling: DiskState | None = None
            while not self._stop.wait(interval):
                try:
                    settling = self.poll(settling)
                except Exception:  # a reload must never kill the watcher
                    log.exception("reload failed")

        self._watcher = threading.Thread(target=watch, name="shopwindow-reload", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)
            self._watcher = None
        if self.geoip is not None:
            self.geoip.close()


# The rule files' fingerprint (trigger mode: the folder the rules path leads to), the
# catalog's mtime.
DiskState = tuple[Fingerprint | str, float]


def _removed_ids(before: RuleSet, after: RuleSet) -> tuple[str, ...]:
    kept = {rule.id for rule in after.all_rules()}
    return tuple(sorted({rule.id for rule in before.all_rules()} - kept))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
