"""The visitor's country: a trusted CDN header first, then a MaxMind database, then a default."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import maxminddb
from lru import LRU

from shopwindow.serve import metrics
from shopwindow.visitor.network import canonical_ip

log = logging.getLogger("shopwindow")

# Database types that hold a country per address (GeoLite2-Country, GeoIP2-City,
# GeoIP2-Enterprise, ...); an ASN or anonymous-IP database from the same download
# would silently send every visitor to the default country.
COUNTRY_DATABASE_WORDS = ("Country", "City", "Enterprise")
# A damaged database fails for every visitor in the damaged range: say so once a
# minute, not once per request.
ERROR_LOG_EVERY_SECONDS = 60.0

DEFAULT_COUNTRY_HEADERS: tuple[str, ...] = (
    "cf-ipcountry",
    "cloudfront-viewer-country",
    "fastly-client-geo-country",
)

# Letters a CDN sends when it does not know: Cloudflare "XX" (and "T1" for Tor, which
# the letters test rejects already), "ZZ" by convention elsewhere, and the legacy
# MaxMind pseudo-countries for Europe and Asia/Pacific, which are no store's country.
UNKNOWN_COUNTRIES = frozenset({"XX", "ZZ", "EU", "AP"})

# Documentation address ranges only (RFC 5737, RFC 3849): they never route, so the
# demo shop and the tests can place a visitor anywhere without touching real users.
DEMO_NETWORKS: Mapping[str, str] = MappingProxyType(
    {
        "192.0.2.0/24": "DE",
        "198.51.100.0/24": "FR",
        "203.0.113.0/24": "US",
        "2001:db8::/32": "GB",
        "2001:db8:a7::/48": "AT",
    }
)

# No textual IP address is longer; a longer string is not worth a cache slot.
_MAX_IP_CHARS = 64


def _country_code(value: object) -> str | None:
    """value as an upper-case ISO alpha-2 code, or None when it is not one we can use."""
    if not isinstance(value, str):
        return None
    code = value.strip()
    if len(code) != 2 or not (code.isascii() and code.isalpha()):
        return None
    code = code.upper()
    return None if code in UNKNOWN_COUNTRIES else code


def _record_country(record: object) -> str | None:
    if not isinstance(record, Mapping):
        return None
    # "registered_country" is where the network is registered; it stands in when the
    # database has no location for the address itself (anycast, satellite, some mobile).
    for field in ("country", "registered_country"):
        place = record.get(field)
        if isinstance(place, Mapping):
            code = _country_code(place.get("iso_code"))
            if code is not None:
                return code
    return None


_NOT_CACHED: Any = object()


class GeoCacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class GeoIPError(ValueError):
    """A GeoIP database that cannot serve: one line, naming the setting and the file."""


FileState = tuple[int, int, int, int]  # device, inode, size, mtime (ns)


def _file_state(path: str) -> FileState | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def open_country_database(path: str) -> Any:
    """A reader of a private copy of path, checked to hold countries; GeoIPError otherwise.

    The reader maps its file: a database overwritten in place (`cp new.mmdb
    GeoLite2-Country.mmdb`) would change under a mapped reader mid-lookup. A private
    copy, removed once open, is immune to what happens to the operator's file.
    """
    where = f"geoip setting (--geoip, SHOPWINDOW_GEOIP): {path}"
    if not os.path.isfile(path):
        raise GeoIPError(f"{where}: no such file")
    handle, private = tempfile.mkstemp(prefix="shopwindow-geoip-", suffix=".mmdb")
    os.close(handle)
    try:
        shutil.copyfile(path, private)
        reader = maxminddb.open_database(private, maxminddb.MODE_AUTO)
    except OSError as exc:
        raise GeoIPError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise GeoIPError(f"{where}: not a valid MaxMind database ({exc})") from None
    finally:
        os.unlink(private)
    kind = str(reader.metadata().database_type)
    if not any(word in kind for word in COUNTRY_DATABASE_WORDS):
        reader.close()
        raise GeoIPError(
            f"{where}: a {kind} database has no countries; use GeoLite2-Country or GeoLite2-City"
        )
    return reader


class GeoIP:
    """Country lookups in a MaxMind DB (GeoLite2/GeoIP2 Country or City), cached per address.

    An enhancement, never a dependency: a lookup that fails (a damaged database)
    answers None, so the visitor gets the CDN header's or the default country.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        cache_size: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path: str | None = None if path is None else os.fspath(path)
        self._reader: Any = None
        self._clock = clock
        self._last_error_log: float | None = None
        self._errors_unlogged = 0
        self._state: FileState | None = None
        self._seen: FileState | None = None  # the file as last looked at by refresh()
        self._refused: FileState | None = None
        if self.path is not None:
            self._state = _file_state(self.path)
            self._reader = open_country_database(self.path)
            metrics.loaded("geoip")
        # lru-dict's operations are each one C call, whole under the GIL: the threads
        # Starlette runs sync code in share the cache without a lock.
        self._cache: LRU[str, str | None] = LRU(cache_size)

    def __enter__(self) -> GeoIP:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GeoIP({self.path!r})"

    @property
    def database_type(self) -> str | None:
        """The database's own name for itself ("GeoLite2-Country"), None without one."""
        if self._reader is None:
            return None
        return str(self._reader.metadata().database_type)

    def country(self, ip: str) -> str | None:
        """The ISO alpha-2 country of ip, upper case, or None when unknown or not an IP."""
        if self._reader is None or len(ip) > _MAX_IP_CHARS:
            return None
        found = self._cache.get(ip, _NOT_CACHED)
        if found is _NOT_CACHED:
            found = self._cache[ip] = self._lookup(ip)
        return found

    def _lookup(self, ip: str) -> str | None:
        address = canonical_ip(ip)
        reader = self._reader
        if address is None or reader is None:
            return None
        try:
            record = reader.get(address)
        except maxminddb.InvalidDatabaseError as exc:
            self._lookup_failed(ip, exc)
            return None
        except ValueError:
            # An IPv6 address asked of an IPv4-only database.
            return None
        except Exception as exc:  # a damaged file can fail in any way; never the visitor's page
            self._lookup_failed(ip, exc)
            return None
        return _record_country(record)

    def _lookup_failed(self, ip: str, exc: Exception) -> None:
        metrics.GEOIP_ERRORS.inc()
        now = self._clock()
        if (
            self._last_error_log is not None
            and now - self._last_error_log < ERROR_LOG_EVERY_SECONDS
        ):
            self._errors_unlogged += 1
            return
        more = (
            f" (and {self._errors_unlogged} more since the last report)"
            if self._errors_unlogged
            else ""
        )
        log.error(
            "GeoIP lookup of %s failed in %s, answering the default country%s: %s",
            ip,
            self.path,
            more,
            exc,
        )
        self._last_error_log = now
        self._errors_unlogged = 0

    def refresh(self) -> bool:
        """Take a replaced database file: once it stands still for two looks, reopen it.

        geoipupdate renames a new file into place; an operator may also overwrite it
        in place. Either way the file's identity or size or time changes. A new file
        that does not open (half-copied, the wrong kind) is refused once, and the
        previous database keeps serving. True when a new database went live.
        """
        if self.path is None or self._reader is None:
            return False
        state = _file_state(self.path)
        if state == self._state or state is None:
            self._seen = None
            return False
        if state != self._seen:
            self._seen = state  # changed since the last look: wait for it to stand still
            return False
        if state == self._refused:
            return False
        try:
            reader = open_country_database(self.path)
        except GeoIPError as exc:
            self._refused = state
            metrics.refused("geoip")
            log.error("GeoIP database not replaced, the previous one keeps serving: %s", exc)
            return False
        if _file_state(self.path) != state:
            reader.close()
            return False  # changed while copied: the next looks read it again
        # Swapped whole: a lookup in flight keeps the old reader, which closes once
        # nothing holds it.
        self._reader, self._state, self._seen = reader, state, None
        self._cache.clear()
        metrics.loaded("geoip")
        log.info("GeoIP database reloaded: %s (%s)", self.path, self.database_type)
        return True

    def cache_info(self) -> GeoCacheInfo:
        hits, misses = self._cache.get_stats()
        return GeoCacheInfo(hits, misses, self._cache.get_size(), len(self._cache))

    def close(self) -> None:
        """Release the database; later lookups answer None. Safe to call twice."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        self._cache.clear()


def country_of(
    headers: Mapping[str, str],
    *,
    peer_trusted: bool,
    ip: str,
    geoip: GeoIP | None,
    header_names: Sequence[str] = DEFAULT_COUNTRY_HEADERS,
    default: str,
) -> tuple[str, str]:
    """(country, source): source is "header", "geoip" or "default".

    A country header is believed only from a trusted peer (our CDN): anyone else
    could send "CF-IPCountry: US" to see another country's prices. Header names are
    looked up in lower case, as ASGI delivers them.
    """
    if peer_trusted:
        for name in header_names:
            value = headers.get(name.lower())
            if value:
                code = _country_code(value)
                if code is not None:
                    return code, "header"
    if geoip is not None and ip:
        code = geoip.country(ip)
        if code is not None:
            return code, "geoip"
    return default, "default"


def write_geoip_db(
    path: str | os.PathLike[str],
    networks: Mapping[str, str],
    *,
    database_type: str = "GeoLite2-Country",
) -> None:
    """Write a real MaxMind DB mapping each CIDR to {"country": {"iso_code": CC}}.

    IPv4 and IPv6 networks share one IPv6 tree, as in MaxMind's own databases. A
    more specific network wins over a wider one whatever the mapping's order. The
    file is replaced atomically, so a server with the old file mapped never reads
    a half-written one.
    """
    import netaddr
    from mmdb_writer import MMDBWriter

    entries: list[tuple[netaddr.IPNetwork, str]] = []
    for cidr, country in networks.items():
        code = _country_code(country)
        if code is None:
            raise ValueError(f"invalid country code {country!r} for {cidr!r}")
        try:
            network = netaddr.IPNetwork(cidr.strip())
        except (netaddr.AddrFormatError, ValueError, TypeError) as error:
            raise ValueError(f"invalid network {cidr!r}") from error
        entries.append((network.cidr, code))
    # mmdb-writer lets a later, wider network overwrite an earlier, narrower one;
    # inserting widest first makes the narrower network win.
    entries.sort(key=lambda entry: entry[0].prefixlen + (96 if entry[0].version == 4 else 0))

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="shopwindow GeoIP test data",
    )
    for network, code in entries:
        writer.insert_network(netaddr.IPSet([network]), {"country": {"iso_code": code}})

    target = os.fspath(path)
    partial = f"{target}.{os.getpid()}.partial"
    try:
        writer.to_db_file(partial)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def build_demo_geoip(path: str | os.PathLike[str]) -> None:
    """Write the demo shop's GeoIP database (demo/geoip.mmdb) from DEMO_NETWORKS."""
    write_geoip_db(path, DEMO_NETWORKS)
