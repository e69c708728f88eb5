"""Every setting declared once: feeds the settings file, environment variables, CLI flags and docs."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = "shopwindow-dev-secret-change-me"


def _bundled(*parts: str) -> str:
    return str(PROJECT_ROOT.joinpath(*parts))


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: str  # "text" | "int" | "float" | "bool" | "list" | "path" | "choice"
    default: Any
    help: str
    flag: str | None = None  # CLI flag, when the setting has one
    choices: tuple[str, ...] = ()
    secret: bool = False  # read from the environment only, never printed

    @property
    def env(self) -> str:
        return "SHOPWINDOW_" + self.name.upper()


DECLARATIONS: tuple[Setting, ...] = (
    Setting("rules", "path", _bundled("rules"), "folder of rule files", "--rules"),
    Setting(
        "catalog",
        "path",
        _bundled("demo", "catalog.jsonl"),
        "product feed: JSON Lines, CSV, Google Merchant Center (TSV or XML) or a Shopify product export",
        "--catalog",
    ),
    Setting(
        "catalog_categories",
        "path",
        "",
        "YAML file mapping a feed's product types and Google categories to categories; empty = the built-in map",
        "--catalog-categories",
    ),
    Setting(
        "catalog_currency",
        "text",
        "EUR",
        "currency of feeds that name none (Shopify exports)",
        "--catalog-currency",
    ),
    Setting(
        "geoip", "path", "", "MaxMind country or city database (.mmdb); empty = none", "--geoip"
    ),
    Setting(
        "templates", "path", _bundled("templates"), "folder of Jinja2 templates", "--templates"
    ),
    Setting(
        "reload",
        "choice",
        "auto",
        "when rule edits go live: watch (each saved file, after it stands still; for development), trigger (only on `shopwindow reload`, SIGHUP or a swap of a symlinked rules folder), auto (trigger in production, watch otherwise)",
        "--reload",
        ("auto", "watch", "trigger"),
    ),
    Setting(
        "rule_file_max_bytes",
        "int",
        2 * 1024 * 1024,
        "largest rule file read; a larger one is refused before it is parsed",
        None,
    ),
    Setting(
        "catalog_max_loss",
        "int",
        50,
        "percent of products a new feed may lose and still go live (100: any feed but an empty one)",
        None,
    ),
    Setting("host", "text", "127.0.0.1", "address to listen on", "--host"),
    Setting("port", "int", 8000, "port to listen on", "--port"),
    Setting("workers", "int", 1, "worker processes", "--workers"),
    Setting(
        "server",
        "choice",
        "uvicorn",
        "HTTP server: uvicorn (its shutdown, restarts and limits are held by the tests) or granian (faster; only behind a proxy that times out idle connections, see docs/performance.md)",
        "--server",
        ("uvicorn", "granian"),
    ),
    Setting(
        "env",
        "choice",
        "development",
        "development or production; production refuses the dev secret and --dev",
        None,
        ("development", "production"),
    ),
    Setting(
        "dev",
        "bool",
        False,
        "preview switch (country, gender, device) on pages; refused in production",
        "--dev",
    ),
    Setting(
        "secret",
        "text",
        DEV_SECRET,
        "key that signs visitor cookies (environment only)",
        None,
        secret=True,
    ),
    Setting(
        "secret_fallbacks",
        "list",
        [],
        "earlier secrets, comma-separated, during a rotation: cookies signed with one are still read and signed again with `secret`",
        None,
        secret=True,
    ),
    Setting(
        "identity_secret",
        "text",
        "",
        "key the shop's backend signs customer ids with, so `identify` links a device only with its proof (docs/profiles.md); empty = identify is off",
        None,
        secret=True,
    ),
    Setting(
        "identity_secret_fallbacks",
        "list",
        [],
        "earlier identity secrets, comma-separated, whose proofs are still accepted during a rotation",
        None,
        secret=True,
    ),
    Setting(
        "allowed_hosts",
        "list",
        [],
        "hosts a redirect may point to besides relative paths on this site",
        "--allowed-host",
    ),
    Setting(
        "trusted_proxies",
        "list",
        [],
        "CIDRs of proxies/CDNs whose X-Forwarded-For and geo headers are believed",
        "--trusted-proxy",
    ),
    Setting(
        "country_headers",
        "list",
        ["cf-ipcountry", "cloudfront-viewer-country", "fastly-client-geo-country"],
        "CDN headers carrying the visitor's country (trusted proxies only)",
        "--country-header",
    ),
    Setting(
        "default_country",
        "text",
        "US",
        "country when neither a header nor GeoIP knows",
        "--default-country",
    ),
    Setting("timezone", "text", "UTC", "the shop's time zone, for schedules", "--timezone"),
    Setting(
        "homepage_mode",
        "choice",
        "redirect",
        "answer GET / with a 302 to the chosen homepage, or render it",
        "--homepage-mode",
        ("redirect", "render"),
    ),
    Setting("cookie_name", "text", "sw", "name of the signed visitor cookie", None),
    Setting("cookie_days", "int", 365, "lifetime of the visitor cookie in days", None),
    Setting(
        "cookie_secure",
        "choice",
        "auto",
        "Secure flag on the visitor cookie: auto (when https), always, never",
        None,
        ("auto", "always", "never"),
    ),
    Setting(
        "session_idle_minutes",
        "int",
        30,
        "idle time after which a visit counts as a new session",
        None,
    ),
    Setting("affinity_view", "float", 1.0, "affinity weight of a product view", None),
    Setting("affinity_cart", "float", 3.0, "affinity weight of an add to cart", None),
    Setting("affinity_purchase", "float", 5.0, "affinity weight of a purchase", None),
    Setting(
        "affinity_half_life_days",
        "float",
        30.0,
        "days after which an affinity score counts half",
        None,
    ),
    Setting(
        "affinity_lead",
        "float",
        0.6,
        "share of the affinity one gender/category needs to count as the visitor's",
        None,
    ),
    Setting(
        "consent_cookie",
        "text",
        "",
        "site cookie that records consent; empty = no consent check",
        "--consent-cookie",
    ),
    Setting(
        "consent_decline",
        "list",
        ["0", "false", "no", "denied", "declined"],
        "values of the consent cookie that mean 'no personalization'",
        None,
    ),
    Setting("honour_gpc", "bool", True, "treat Sec-GPC: 1 as declined personalization", None),
    Setting(
        "cart_cookie",
        "text",
        "",
        "site cookie with the cart as JSON (see docs/events.md); empty = cart from events only",
        None,
    ),
    Setting("max_body_bytes", "int", 65536, "largest events body accepted", None),
    Setting("max_events", "int", 50, "most events in one beacon", None),
    Setting("landing_prefix", "text", "/lp/", "path prefix of landing pages (/lp/{slug})", None),
    Setting(
        "languages",
        "list",
        [],
        "language packs for reading ad keywords and campaign names besides English: de, es, fr, it, nl",
        "--language",
    ),
    Setting(
        "origin",
        "text",
        "",
        "origin site to proxy for every path shopwindow does not answer; empty = off",
        "--origin",
    ),
    Setting(
        "redis",
        "text",
        "",
        "Redis URL for profiles and counters shared by many nodes; empty = SQLite",
        "--redis",
    ),
    Setting(
        "profile_db",
        "path",
        "",
        "SQLite file of the profile store; empty = shopwindow.sqlite3 beside the rules",
        "--profile-db",
    ),
    Setting(
        "stats_token",
        "text",
        "",
        "token that /_sw/stats requires (environment or file)",
        None,
        secret=True,
    ),
    Setting(
        "staff_token",
        "text",
        "",
        "token that the staff view requires (environment or file)",
        None,
        secret=True,
    ),
    Setting(
        "token_attempts",
        "int",
        10,
        "wrong staff or stats tokens one client address (IPv6: its /64) may send before it must wait (429)",
        None,
    ),
    Setting(
        "token_lockout_seconds",
        "int",
        900,
        "how long an address that sent token_attempts wrong tokens waits, from its first wrong one",
        None,
    ),
    Setting(
        "attribution_hours",
        "float",
        168.0,
        "hours after a visitor's last exposure to a rule during which their clicks and purchases count for it",
        None,
    ),
    Setting(
        "stats_flush_seconds",
        "float",
        2.0,
        "how often queued exposures and events are written to the stats store",
        None,
    ),
    Setting(
        "stats_retention_days",
        "float",
        90.0,
        "days a visitor's exposure log (and seen order ids) are kept after their last exposure",
        None,
    ),
    Setting(
        "stats_min_visitors",
        "int",
        100,
        "visitors each variant and its control need before lift and significance are shown",
        None,
    ),
    Setting(
        "stats_confidence",
        "float",
        0.95,
        "confidence level of the intervals and of 'significant' in the stats",
        None,
    ),
    Setting(
        "decision_log_rate",
        "float",
        0.1,
        "share of visitors (0 to 1) whose answers are traced in the decision log",
        None,
    ),
    Setting(
        "decision_log_size",
        "int",
        50000,
        "most entries the decision log keeps (the oldest go first)",
        None,
    ),
    Setting(
        "decision_log_days",
        "float",
        30.0,
        "days a decision log entry is kept",
        None,
    ),
    Setting(
        "popups_per_session",
        "int",
        1,
        "most popups a visitor sees in one session, all popup rules together; 0 = no limit",
        None,
    ),
    Setting(
        "popups_per_day",
        "int",
        2,
        "most popups a visitor sees in one day (UTC), all popup rules together; 0 = no limit",
        None,
    ),
    Setting(
        "origin_paths",
        "list",
        [],
        "path prefixes proxied to the origin (origin mode); empty = every path shopwindow does not answer",
        "--origin-path",
    ),
    Setting(
        "origin_exclude",
        "list",
        [],
        "path prefixes never proxied to the origin (answered 404 by shopwindow)",
        "--origin-exclude",
    ),
    Setting("origin_timeout", "float", 10.0, "seconds to wait for the origin's answer", None),
    Setting(
        "origin_cache_seconds",
        "float",
        30.0,
        "longest time a shareable origin page is reused (shorter when the origin says so); 0 = never",
        None,
    ),
    Setting("origin_cache_pages", "int", 1000, "most origin pages kept in memory per worker", None),
    Setting(
        "origin_shared_cookies",
        "list",
        [],
        "request cookies that do not personalise the origin's pages (consent, analytics; a name, or a prefix ending in *, such as _ga*): requests with any other cookie never use the shared cache",
        None,
    ),
    Setting(
        "origin_connections",
        "int",
        200,
        "origin connections per worker; a request beyond them gets 503 with Retry-After at once",
        None,
    ),
    Setting(
        "origin_client_requests",
        "int",
        20,
        "origin requests one client address (through --trusted-proxy) may have under way; more get 503",
        None,
    ),
    Setting(
        "origin_path_requests",
        "int",
        50,
        "origin requests for one path that may be under way; more get 503",
        None,
    ),
    Setting(
        "origin_log_queries",
        "bool",
        False,
        "write query strings of proxied URLs into the log (they can carry e-mail addresses and tokens)",
        None,
    ),
    Setting(
        "slot_timeout",
        "float",
        0.2,
        "seconds an origin page's slots may take; later, the page is served as the origin sent it",
        None,
    ),
    Setting(
        "campaigns_db",
        "path",
        "",
        "SQLite file counting campaigns without a landing page; empty = the profile store's file",
        None,
    ),
    Setting(
        "popular_half_life_hours",
        "float",
        6.0,
        "hours after which a view or purchase counts half in 'popular now' recommendations",
        None,
    ),
    Setting(
        "popular_sync_seconds",
        "float",
        1.0,
        "how often a node sends its 'popular now' counts to Redis and reads the shared ranking",
        None,
    ),
    Setting(
        "redis_timeout_ms",
        "int",
        5,
        "how long a request waits for Redis before it serves from the cookie alone (degraded mode)",
        None,
    ),
    Setting(
        "profile_cache_seconds",
        "float",
        5.0,
        "how long a node reuses a customer profile it has read before asking the store again",
        None,
    ),
    Setting(
        "profile_flush_ms",
        "int",
        100,
        "how often a node writes what the beacon said about identified customers to the store",
        None,
    ),
    Setting(
        "max_header_bytes",
        "int",
        16384,
        "largest request head (request line and headers) accepted; a larger one gets 431",
        None,
    ),
    Setting("max_headers", "int", 100, "most request headers accepted; more get 431", None),
    Setting(
        "max_query_bytes",
        "int",
        8192,
        "longest query string accepted; a longer one gets 414 before it is parsed",
        None,
    ),
    Setting(
        "head_timeout_seconds",
        "float",
        10.0,
        "seconds a client has to send a request's head; slower connections are closed",
        None,
    ),
    Setting(
        "body_idle_seconds",
        "float",
        10.0,
        "seconds a request body may pause between two pieces; then 408 and the connection is closed",
        None,
    ),
    Setting(
        "body_total_seconds",
        "float",
        60.0,
        "seconds a whole request body may take to arrive; then 408 and the connection is closed",
        None,
    ),
    Setting(
        "max_connections",
        "int",
        1000,
        "connections and requests a worker serves at once; beyond it new requests get 503",
        None,
    ),
    Setting(
        "keep_alive_seconds",
        "int",
        5,
        "seconds an idle keep-alive connection stays open (raise it above a load balancer's idle timeout)",
        None,
    ),
)

BY_NAME = {s.name: s for s in DECLARATIONS}

# Settings that were replaced: named anywhere, they stop the start with what to use now.
RETIRED = {
    "origin_private_cookies": (
        "origin_private_cookies was replaced by origin_shared_cookies: list the cookies "
        "that do NOT personalise a page (consent, analytics, such as _ga*); a request "
        "with any other cookie is now never answered from the shared cache"
    ),
}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)  # where each value came from
    file: str | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            value = self.values[name]
        except KeyError:
            raise AttributeError(name) from None
        # Read on every request: kept as a plain attribute after the first read.
        object.__setattr__(self, name, value)
        return value

    def replace(self, **changes: Any) -> Settings:
        return Settings({**self.values, **changes}, self.sources, self.file)

    def named(self, name: str) -> str:
        """The setting's name and where its value came from, for a message about it."""
        source = self.sources.get(name, "default")
        if source == "default":
            return name
        if source == "environment":
            return f"{name} (from {BY_NAME[name].env})"
        if source == "command line":
            return f"{name} (from {BY_NAME[name].flag or 'the command line'})"
        try:  # a settings file, as the operator's shell shows it
            source = str(Path(source).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
        return f"{name} (from {source})"


class SettingsError(Exception):
    pass


def convert(setting: Setting, raw: Any, origin: str, base: Path | None = None) -> Any:
    """A raw value (text from env/CLI, or TOML) as the setting's type, or a SettingsError."""
    where = f"{setting.name} (from {origin})"
    t = setting.type
    try:
        if t == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if t == "int":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if t == "float":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if t == "list":
            if isinstance(raw, str):
                return [p.strip() for p in raw.split(",") if p.strip()]
            if isinstance(raw, Sequence):
                return [str(p) for p in raw]
            raise ValueError(raw)
        if t == "path":
            text = str(raw)
            if text and base is not None and not os.path.isabs(text):
                return str((base / text).resolve())
            return text
        if t == "choice":
            if str(raw) not in setting.choices:
                raise SettingsError(f"{where}: {raw!r} is not one of {', '.join(setting.choices)}")
            return str(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: {raw!r} is not a valid {t}") from None


def load(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config: str | None = None,
) -> Settings:
    """Defaults < settings file < environment < CLI flags, each checked the same way."""
    cli = {k: v for k, v in (cli or {}).items() if v is not None and v != () and v != []}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in DECLARATIONS}
    sources: dict[str, str] = {s.name: "default" for s in DECLARATIONS}

    def from_env_and_cli(names: Sequence[str]) -> None:
        for name in names:
            s = BY_NAME[name]
            if s.env in environ:
                values[name] = convert(s, environ[s.env], s.env, Path.cwd())
                sources[name] = "environment"
            if name in cli and not s.secret:
                values[name] = convert(s, cli[name], s.flag or name, Path.cwd())
                sources[name] = "command line"

    # The rules folder decides where the settings file is, so it is read first.
    for name, message in RETIRED.items():
        if "SHOPWINDOW_" + name.upper() in environ or name in cli:
            raise SettingsError(message)
    from_env_and_cli(["rules"])
    config = config or environ.get("SHOPWINDOW_CONFIG")
    path = Path(config) if config else Path(values["rules"]) / "shopwindow.toml"
    used_file: str | None = None
    if path.is_file():
        used_file = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None
        for key, raw in data.items():
            s = BY_NAME.get(key)
            if key in RETIRED:
                raise SettingsError(f"{path}: {RETIRED[key]}")
            if s is None:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            if key == "rules":
                continue
            values[key] = convert(s, raw, str(path), path.parent)
            sources[key] = str(path)
    elif config:
        raise SettingsError(f"settings file {config} not found")
    from_env_and_cli([s.name for s in DECLARATIONS if s.name != "rules"])
    settings = Settings(values, sources, used_file)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone: unknown time zone {settings.timezone!r}") from None
    from shopwindow.rules.languages import ENGLISH, PACKS

    for language in settings.languages:
        if language not in PACKS and language != ENGLISH:
            raise SettingsError(
                f"languages: no language pack {language!r} (there are {', '.join(PACKS)})"
            )
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", settings.cookie_name):
        raise SettingsError(
            f"cookie_name: {settings.cookie_name!r} must be 1-40 letters, digits, '-' or '_'"
        )
    if settings.origin:
        from urllib.parse import urlsplit

        origin = urlsplit(settings.origin)
        if origin.scheme not in ("http", "https") or not origin.hostname or origin.query:
            raise SettingsError(
                f"origin: {settings.origin!r} is not an http(s) URL such as http://10.0.0.5:8080"
            )
    if settings.env == "production":
        if settings.secret == DEV_SECRET:
            raise SettingsError(
                "SHOPWINDOW_SECRET must be set in production (the dev secret is refused)"
            )
        if settings.dev:
            raise SettingsError("--dev (the preview switch) is refused in production")
        for name in ("staff_token", "stats_token"):
            token = settings.values[name]
            if token and len(token) < 32:
                raise SettingsError(
                    f"SHOPWINDOW_{name.upper()}: at least 32 characters in production;"
                    " make one with: openssl rand -hex 32"
                )
        if settings.identity_secret and len(settings.identity_secret) < 32:
            raise SettingsError(
                "SHOPWINDOW_IDENTITY_SECRET: at least 32 characters in production;"
                " make one with: openssl rand -hex 32"
            )
    if not 0 < settings.stats_confidence < 1:
        raise SettingsError("stats_confidence: a level between 0 and 1, such as 0.95")
    if not 0 <= settings.decision_log_rate <= 1:
        raise SettingsError("decision_log_rate: a share from 0 to 1, such as 0.1")
    for name in ("attribution_hours", "stats_retention_days", "decision_log_days"):
        if settings.values[name] <= 0:
            raise SettingsError(f"{name}: must be more than 0")
    for name in ("body_idle_seconds", "body_total_seconds"):
        if settings.values[name] <= 0:
            raise SettingsError(f"{name}: must be more than 0")
    for name in ("origin_connections", "origin_client_requests", "origin_path_requests"):
        if settings.values[name] < 1:
            raise SettingsError(f"{name}: at least 1")
    if settings.decision_log_size < 1:
        raise SettingsError("decision_log_size: at least 1")
    if settings.token_attempts < 1 or settings.token_lockout_seconds < 1:
        raise SettingsError("token_attempts and token_lockout_seconds: at least 1")


def markdown() -> str:
    """docs/settings.md, generated from the declarations above."""
    lines = [
        "# Settings",
        "",
        "Generated by `shopwindow docs settings` from `src/shopwindow/settings.py`; do not edit by hand.",
        "",
        "Every setting can come from four places; a later one wins:",
        "",
        "1. its default,",
        "2. the settings file: `shopwindow.toml` in the rules folder, or the file named by",
        "   `--config` / `SHOPWINDOW_CONFIG` (relative paths are relative to that file),",
        "3. its environment variable,",
        "4. its command-line flag, where it has one.",
        "",
        "`serve`, `check` and `explain` read them the same way. Secrets are read from the",
        "environment or the settings file, never from a flag.",
        "",
        "| setting | environment | flag | type | default | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for s in DECLARATIONS:
        default = s.default
        if s.secret:
            default = "(dev value)" if default else ""
        elif (
            s.type == "path" and isinstance(default, str) and default.startswith(str(PROJECT_ROOT))
        ):
            default = os.path.relpath(default, PROJECT_ROOT)
        elif isinstance(default, list):
            default = ", ".join(default)
        kind = f"one of {', '.join(s.choices)}" if s.choices else s.type
        flag = f"`{s.flag}`" if s.flag else ""
        if s.type == "list" and s.flag:
            flag += " (repeatable)"
        shown = f"`{default}`" if default not in ("", None) else ""
        lines.append(f"| `{s.name}` | `{s.env}` | {flag} | {kind} | {shown} | {s.help} |")
    return "\n".join(lines) + "\n"
