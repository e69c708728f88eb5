"""Country of a visitor: CDN headers from trusted peers, real MaxMind files, defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import maxminddb
import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdb_writer import MMDBWriter

from shopwindow.visitor.geo import (
    DEFAULT_COUNTRY_HEADERS,
    DEMO_NETWORKS,
    GeoIP,
    GeoIPError,
    build_demo_geoip,
    country_of,
    write_geoip_db,
)

NETWORKS = {
    "192.0.2.0/24": "DE",
    "198.51.100.0/24": "fr",  # lower case in, upper case out
    "203.0.113.0/24": "US",
    "203.0.113.128/25": "CA",  # narrower, listed after the wider one: must still win
    "2001:db8::/32": "GB",
    "2001:db8:1::/48": "IE",
}

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def geo_path(tmp_path: Path) -> Path:
    path = tmp_path / "geo.mmdb"
    write_geoip_db(path, NETWORKS)
    return path


@pytest.fixture
def geoip(geo_path: Path) -> Iterator[GeoIP]:
    with GeoIP(geo_path) as geoip:
        yield geoip


@pytest.fixture(scope="module")
def shared_geoip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeoIP]:
    # Module scope: hypothesis runs many examples inside one test call.
    path = tmp_path_factory.mktemp("geo") / "geo.mmdb"
    write_geoip_db(path, NETWORKS)
    with GeoIP(path, cache_size=64) as geoip:
        yield geoip


def _write_records(path: Path, records: dict[str, dict[str, object]], *, v6: bool = True) -> None:
    """A database with arbitrary record shapes (City, registered_country only, ...)."""
    writer = MMDBWriter(
        ip_version=6 if v6 else 4,
        ipv4_compatible=v6,
        database_type="GeoLite2-City",
    )
    for cidr, record in records.items():
        writer.insert_network(netaddr.IPSet([cidr]), record)
    writer.to_db_file(str(path))


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("192.0.2.1", "DE"),
        ("192.0.2.255", "DE"),
        ("198.51.100.77", "FR"),
        ("203.0.113.1", "US"),
        ("203.0.113.127", "US"),
        ("203.0.113.128", "CA"),
        ("203.0.113.255", "CA"),
        ("2001:db8::1", "GB"),
        ("2001:db8:ffff::1", "GB"),
        ("2001:db8:1::1", "IE"),
        ("2001:DB8:1:0::1", "IE"),
        ("::ffff:192.0.2.1", "DE"),  # IPv4-mapped, as a dual-stack socket reports it
        ("192.0.3.1", None),
        ("2001:db9::1", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("", None),
        ("not an ip", None),
        ("192.0.2.300", None),
        ("x" * 10_000, None),
    ],
)
def test_country(geoip: GeoIP, ip: str, country: str | None) -> None:
    assert geoip.country(ip) == country


def test_file_is_a_real_maxmind_db(geo_path: Path) -> None:
    with maxminddb.open_database(str(geo_path)) as reader:
        assert reader.metadata().database_type == "GeoLite2-Country"
        assert reader.metadata().ip_version == 6
        assert reader.get("192.0.2.1") == {"country": {"iso_code": "DE"}}


def test_database_type(geoip: GeoIP) -> None:
    assert geoip.database_type == "GeoLite2-Country"
    assert geoip.path is not None and geoip.path.endswith("geo.mmdb")


def test_city_shaped_records(tmp_path: Path) -> None:
    path = tmp_path / "city.mmdb"
    _write_records(
        path,
        {
            "192.0.2.0/24": {
                "city": {"names": {"en": "Berlin"}},
                "continent": {"code": "EU"},
                "country": {"iso_code": "DE", "names": {"en": "Germany"}},
                "location": {"latitude": 52.5, "longitude": 13.4},
                "registered_country": {"iso_code": "NL"},
            },
            # No location for the address itself: the registration country stands in.
            "198.51.100.0/24": {"registered_country": {"iso_code": "nl"}},
            # Useless records answer None rather than raising.
            "203.0.113.0/26": {"country": {"iso_code": "Germany"}},
            "203.0.113.64/26": {"country": "DE"},
            "203.0.113.128/26": {"continent": {"code": "EU"}},
            "203.0.113.192/26": {"country": {"iso_code": "XX"}, "registered_country": {}},
            "2001:db8::/32": {"country": {}, "registered_country": {"iso_code": "SE"}},
        },
    )
    with GeoIP(path) as geoip:
        assert geoip.database_type == "GeoLite2-City"
        assert geoip.country("192.0.2.9") == "DE"
        assert geoip.country("198.51.100.9") == "NL"
        assert geoip.country("203.0.113.1") is None
        assert geoip.country("203.0.113.65") is None
        assert geoip.country("203.0.113.129") is None
        assert geoip.country("203.0.113.193") is None
        assert geoip.country("2001:db8::9") == "SE"


def test_ipv4_only_database_answers_none_for_ipv6(tmp_path: Path) -> None:
    path = tmp_path / "v4.mmdb"
    _write_records(path, {"192.0.2.0/24": {"country": {"iso_code": "DE"}}}, v6=False)
    with GeoIP(path) as geoip:
        assert geoip.country("192.0.2.1") == "DE"
        assert geoip.country("2001:db8::1") is None


def test_no_database() -> None:
    geoip = GeoIP(None)
    assert geoip.path is None
    assert geoip.database_type is None
    assert geoip.country("192.0.2.1") is None


def test_missing_database_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(GeoIPError) as raised:
        GeoIP(tmp_path / "absent.mmdb")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("geoip setting (--geoip, SHOPWINDOW_GEOIP): ")
    assert message.endswith("absent.mmdb: no such file")


def test_cache_remembers_answers_including_none(geoip: GeoIP) -> None:
    assert geoip.country("192.0.2.1") == "DE"
    assert geoip.country("192.0.2.1") == "DE"
    assert geoip.country("192.0.3.1") is None
    assert geoip.country("192.0.3.1") is None
    info = geoip.cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 2, 2)


def test_cache_is_bounded(geo_path: Path) -> None:
    with GeoIP(geo_path, cache_size=32) as geoip:
        for host in range(256):
            assert geoip.country(f"192.0.2.{host}") == "DE"
            assert geoip.country(f"garbage-{host}") is None
        info = geoip.cache_info()
        assert info.maxsize == 32
        assert info.currsize == 32
        # The most recent answers are the ones kept.
        geoip.country("192.0.2.255")
        assert geoip.cache_info().hits == 1


def test_close_is_idempotent_and_forgets(geo_path: Path) -> None:
    geoip = GeoIP(geo_path)
    assert geoip.country("192.0.2.1") == "DE"
    geoip.close()
    geoip.close()
    assert geoip.country("192.0.2.1") is None
    assert geoip.cache_info().currsize == 0


def test_rewriting_replaces_the_file_whole(geo_path: Path) -> None:
    write_geoip_db(geo_path, {"192.0.2.0/24": "AT"})
    with GeoIP(geo_path) as geoip:
        assert geoip.country("192.0.2.1") == "AT"
        assert geoip.country("198.51.100.1") is None
    assert [p.name for p in geo_path.parent.iterdir()] == ["geo.mmdb"]


@pytest.mark.parametrize(
    ("networks", "named"),
    [
        ({"192.0.2.0/33": "DE"}, "192.0.2.0/33"),
        ({"nonsense": "DE"}, "nonsense"),
        ({"192.0.2.0/24": "Germany"}, "Germany"),
        ({"192.0.2.0/24": "D1"}, "D1"),
    ],
)
def test_write_rejects_bad_input(tmp_path: Path, networks: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        write_geoip_db(tmp_path / "bad.mmdb", networks)
    assert not list(tmp_path.iterdir())


def test_demo_database_matches_demo_networks(tmp_path: Path) -> None:
    shipped = REPO / "demo" / "geoip.mmdb"
    rebuilt = tmp_path / "demo.mmdb"
    build_demo_geoip(rebuilt)
    for path in (shipped, rebuilt):
        with GeoIP(path) as geoip:
            assert geoip.country("192.0.2.10") == "DE"
            assert geoip.country("198.51.100.10") == "FR"
            assert geoip.country("203.0.113.10") == "US"
            assert geoip.country("2001:db8::10") == "GB"
            assert geoip.country("8.8.8.8") is None
            for cidr, country in DEMO_NETWORKS.items():
                first = str(netaddr.IPNetwork(cidr).network)
                assert geoip.country(first) == country


# --- country_of: which source decides -------------------------------------------------


def decide(
    headers: dict[str, str],
    *,
    trusted: bool,
    ip: str = "192.0.2.1",
    geoip: GeoIP | None = None,
    default: str = "US",
) -> tuple[str, str]:
    return country_of(
        headers,
        peer_trusted=trusted,
        ip=ip,
        geoip=geoip,
        header_names=DEFAULT_COUNTRY_HEADERS,
        default=default,
    )


@pytest.mark.parametrize(
    "header", ["cf-ipcountry", "cloudfront-viewer-country", "fastly-client-geo-country"]
)
def test_trusted_cdn_header_wins(geoip: GeoIP, header: str) -> None:
    assert decide({header: "fr"}, trusted=True, geoip=geoip) == ("FR", "header")


def test_spoofed_header_from_untrusted_peer_is_ignored(geoip: GeoIP) -> None:
    # A visitor in Germany sending "CF-IPCountry: US" straight to us sees Germany.
    assert decide({"cf-ipcountry": "US"}, trusted=False, geoip=geoip) == ("DE", "geoip")
    assert decide({"cf-ipcountry": "US"}, trusted=False, ip="8.8.8.8", geoip=geoip) == (
        "US",
        "default",
    )
    assert decide({"cf-ipcountry": "JP"}, trusted=False, geoip=None, default="GB") == (
        "GB",
        "default",
    )


@pytest.mark.parametrize(
    "value",
    ["XX", "xx", "T1", "ZZ", "EU", "A1", "", " ", "DEU", "D", "Germany", "D-", "ÄÖ", "1", "**"],
)
def test_unusable_header_values_fall_through(geoip: GeoIP, value: str) -> None:
    assert decide({"cf-ipcountry": value}, trusted=True, geoip=geoip) == ("DE", "geoip")


def test_headers_are_tried_in_order() -> None:
    headers = {
        "cf-ipcountry": "XX",
        "cloudfront-viewer-country": " ch ",
        "fastly-client-geo-country": "AT",
    }
    assert decide(headers, trusted=True) == ("CH", "header")


def test_custom_header_names_in_any_case() -> None:
    headers = {"x-country": "NL", "cf-ipcountry": "FR"}
    decided = country_of(
        headers, peer_trusted=True, ip="", geoip=None, header_names=["X-Country"], default="US"
    )
    assert decided == ("NL", "header")


def test_no_ip_no_lookup(geoip: GeoIP) -> None:
    assert decide({}, trusted=True, ip="", geoip=geoip) == ("US", "default")
    assert geoip.cache_info().misses == 0


def test_ipv6_visitor(geoip: GeoIP) -> None:
    assert decide({}, trusted=False, ip="2001:db8:1::5", geoip=geoip) == ("IE", "geoip")


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(st.sampled_from([*DEFAULT_COUNTRY_HEADERS, "other"]), st.text()),
    trusted=st.booleans(),
    ip=st.text(max_size=80),
)
def test_country_of_never_raises(
    shared_geoip: GeoIP, headers: dict[str, str], trusted: bool, ip: str
) -> None:
    country, source = decide(headers, trusted=trusted, ip=ip, geoip=shared_geoip, default="US")
    assert source in {"header", "geoip", "default"}
    assert len(country) == 2 and country.isupper()
    if not trusted:
        assert source != "header"
