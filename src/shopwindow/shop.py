"""The running service's state: settings, rules, catalog, templates; reloaded as one snapshot."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from shopwindow import heap, metrics
from shopwindow.catalog import Catalog, CatalogError, build_catalog, load_catalog
from shopwindow.context import Edge
from shopwindow.errors import RuleError
from shopwindow.events import Weights, weights_from
from shopwindow.geo import DEFAULT_COUNTRY_HEADERS, GeoIP
from shopwindow.lastgood import LastGoodRules
from shopwindow.network import TrustedProxies
from shopwindow.rulefiles import Fingerprint, fingerprint, load_rules
from shopwindow.rules import RuleSet
from shopwindow.settings import Settings
from shopwindow.thenspec import CheckEnv
from shopwindow.visitor import CookieCodec

log = logging.getLogger("shopwindow")


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


def compile_all(settings: Settings, catalog: Catalog | None) -> tuple[RuleSet, list[RuleError]]:
    return load_rules(
        settings.rules, ZoneInfo(settings.timezone), check_env(catalog, settings.templates)
    )


class Shop:
    """Built once per worker; `snapshot` is swapped whole by the reloader."""

    def __init__(self, settings: Settings, last_good: LastGoodRules | None = None) -> None:
        self.settings = settings
        # The last rule files that compiled: for a new catalog while an edit is broken,
        # and (under `serve`) for workers that start later.
        self.last_good = last_good or LastGoodRules()
        self.tz: tzinfo = ZoneInfo(settings.timezone)
        self.codec = CookieCodec(settings.secret, settings.cookie_days)
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
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(settings.templates),
            autoescape=True,
            auto_reload=False,
            cache_size=400,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.snapshot: Snapshot | None = None
        self.extensions: dict[str, Any] = {}  # profile store, stats, ... attached by their modules
        self._stop = threading.Event()
        self._reload_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.snapshot is not None

    def load(self) -> list[str]:
        """First load: every error as text; the shop is ready only when there are none."""
        catalog, catalog_errors = self._read_catalog()
        if catalog is None:
            where = self.settings.named("catalog")
            return [f"{where}: cannot read the product feed {self.settings.catalog}"]
        for err in catalog_errors:
            log.warning("catalog: %s", err)
        rules_print = fingerprint(self.settings.rules)
        ruleset, errors = compile_all(self.settings, catalog)
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

    def _read_catalog(self) -> tuple[Catalog | None, list[CatalogError]]:
        path = self.settings.catalog
        if not path:
            return build_catalog([]), []
        try:
            return load_catalog(path)
        except (OSError, ValueError) as exc:
            log.error("catalog %s: %s", path, exc)
            return None, []

    def reload_if_changed(self, force: bool = False) -> bool:
        """Pick up edits: valid ones go live, broken ones are reported and the last good rules stay.

        `force` (SIGHUP) re-reads everything even when no file looks changed.
        """
        with self._reload_lock:
            return self._reload(force)

    def _reload(self, force: bool) -> bool:
        current = self.snapshot
        if current is None:
            return False
        rules_print = fingerprint(self.settings.rules)
        catalog_mtime = _mtime(self.settings.catalog)
        unchanged = rules_print == current.rules_print and catalog_mtime == current.catalog_mtime
        if unchanged and not force:
            return False
        catalog, catalog_errors = current.catalog, list(current.catalog_errors)
        if catalog_mtime != current.catalog_mtime or force:
            fresh, fresh_errors = self._read_catalog()
            if fresh is not None:
                catalog, catalog_errors = fresh, fresh_errors
        ruleset, errors = compile_all(self.settings, catalog)
        if fingerprint(self.settings.rules) != rules_print:
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
            metrics.RELOAD_FAILURES.inc()
            metrics.RULE_ERRORS.set(len(errors))
            self.snapshot = Snapshot(
                current.rules,
                current.catalog,
                current.catalog_errors,
                tuple(errors),
                rules_print,
                current.catalog_mtime if catalog is current.catalog else catalog_mtime,
            )
            return False
        self.snapshot = Snapshot(
            ruleset, catalog, tuple(catalog_errors), (), rules_print, catalog_mtime
        )
        self.last_good.save(self.settings.rules, rules_print)
        heap.resettle()
        metrics.RELOADS.inc()
        metrics.RULE_ERRORS.set(0)
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
        metrics.RELOAD_FAILURES.inc()
        metrics.RULE_ERRORS.set(len(errors))
        log.info("catalog reloaded with the last good rules: %d products", len(catalog))
        return False  # the edit to the rules did not go live

    def poll(self, settling: DiskState | None) -> DiskState | None:
        """One look at the files for the watcher: reload what changed once it stands still.

        An edit is read when two looks in a row find the files the same: a file
        being written (truncated, then filled) must not go live half-read. Returns
        what to compare the next look with.
        """
        seen = (fingerprint(self.settings.rules), _mtime(self.settings.catalog))
        current = self.snapshot
        if current is None or seen == (current.rules_print, current.catalog_mtime):
            return None
        if seen != settling:
            return seen
        self.reload_if_changed()
        return None

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


DiskState = tuple[Fingerprint, float]  # the rule files' fingerprint, the catalog's mtime


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
