"""GeoIP as an enhancement: MaxMind's own corrupt, wrong-type and replaced databases never fail a page."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shopwindow.serve import metrics
from shopwindow.visitor.geo import GeoIP, GeoIPError, write_geoip_db
from tests.conftest import SECRET, LiveServer
from tests.test_reload import wait_for

GB_VISITOR = "81.2.69.160"  # GB in MaxMind's Country and City test databases
SE_VISITOR = "89.160.20.112"  # SE
HOME_BY_COUNTRY = "- id: home\n  then:\n    path: /{country}/\n"


def _country_test(data: Path) -> Path:
    return data / "test-data" / "GeoIP2-Country-Test.mmdb"


def _corrupt_city(data: Path) -> Path:
    # A City database whose records for the test addresses cannot be decoded.
    return data / "test-data" / "GeoIP2-City-Test-Broken-Double-Format.mmdb"


def test_maxmind_test_databases_answer_countries(maxmind_data: Path) -> None:
    for name in ("GeoIP2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb", "GeoIP2-City-Test.mmdb"):
        with GeoIP(maxmind_data / "test-data" / name) as geoip:
            assert geoip.country(GB_VISITOR) == "GB", name
            assert geoip.country(SE_VISITOR) == "SE", name


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("test-data/GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN"),
        ("test-data/GeoIP2-Anonymous-IP-Test.mmdb", "GeoIP2-Anonymous-IP"),
        ("test-data/GeoIP2-Connection-Type-Test.mmdb", "GeoIP2-Connection-Type"),
    ],
)
def test_a_database_without_countries_is_refused(maxmind_data: Path, name: str, kind: str) -> None:
    with pytest.raises(GeoIPError) as raised:
        GeoIP(maxmind_data / name)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("geoip setting (--geoip, SHOPWINDOW_GEOIP): ")
    assert f"a {kind} database has no countries" in message


def test_databases_that_do_not_open_are_refused_in_one_line(maxmind_data: Path) -> None:
    unopenable = [
        maxmind_data / "test-data" / "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        *sorted((maxmind_data / "bad-data" / "maxminddb-golang").glob("*.mmdb")),
        maxmind_data / "bad-data" / "libmaxminddb" / "libmaxminddb-metadata-marker-only.mmdb",
    ]
    assert len(unopenable) >= 5
    for path in unopenable:
        with pytest.raises(GeoIPError, match="not a valid MaxMind database") as raised:
            GeoIP(path)
        assert "\n" not in str(raised.value)


def test_every_bad_database_answers_or_is_refused_never_raises(maxmind_data: Path) -> None:
    """MaxMind's whole bad-data set: each one is refused at open, or every lookup answers."""
    answered = 0
    for path in sorted((maxmind_data / "bad-data").rglob("*.mmdb")):
        try:
            geoip = GeoIP(path)
        except GeoIPError:
            continue
        with geoip:
            for ip in ("1.1.1.1", GB_VISITOR, "::1", "2001:218::"):
                geoip.country(ip)  # must not raise
                answered += 1
    assert answered == 0 or answered % 4 == 0


def test_a_damaged_record_answers_none_counted_and_logged_once_a_minute(
    maxmind_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    caplog.set_level(logging.ERROR, logger="shopwindow")
    before = metrics.GEOIP_ERRORS._value.get()
    with GeoIP(_corrupt_city(maxmind_data), clock=lambda: now[0]) as geoip:
        assert geoip.database_type == "GeoIP2-City"
        assert geoip.country(GB_VISITOR) is None
        assert geoip.country(GB_VISITOR) is None  # remembered: not looked up again
        assert geoip.country(SE_VISITOR) is None
        now[0] += 59
        assert geoip.country("2.125.160.216") is None
        assert metrics.GEOIP_ERRORS._value.get() - before == 3
        logged = [r.getMessage() for r in caplog.records if "GeoIP lookup" in r.getMessage()]
        assert len(logged) == 1 and GB_VISITOR in logged[0]
        now[0] += 2
        assert geoip.country("2001:218::") is None
        logged = [r.getMessage() for r in caplog.records if "GeoIP lookup" in r.getMessage()]
        assert len(logged) == 2 and "(and 2 more since the last report)" in logged[1]


def test_refresh_takes_a_replaced_file_and_refuses_a_half_copied_one(
    maxmind_data: Path, tmp_path: Path
) -> None:
    live = tmp_path / "GeoLite2-Country.mmdb"
    shutil.copyfile(_country_test(maxmind_data), live)
    with GeoIP(live) as geoip:
        assert geoip.country(GB_VISITOR) == "GB"
        write_geoip_db(live, {"81.2.69.0/24": "FR"})  # atomic rename, as geoipupdate does
        assert not geoip.refresh()  # seen changing: waits one look for it to stand still
        assert geoip.refresh()
        assert geoip.country(GB_VISITOR) == "FR"

        whole = _country_test(maxmind_data).read_bytes()
        with live.open("r+b") as out:  # overwritten in place, and only half of it so far
            out.truncate(0)
            out.write(whole[: len(whole) // 2])
        assert not geoip.refresh()
        assert not geoip.refresh()  # refused: the previous database keeps serving
        assert geoip.country(GB_VISITOR) == "FR"
        assert geoip.country(SE_VISITOR) is None
        with live.open("ab") as out:
            out.write(whole[len(whole) // 2 :])
        assert not geoip.refresh()
        assert geoip.refresh()
        assert geoip.country(GB_VISITOR) == "GB"
        assert geoip.country(SE_VISITOR) == "SE"


@pytest.mark.parametrize(
    "database",
    [
        "test-data/GeoLite2-ASN-Test.mmdb",
        "bad-data/maxminddb-golang/unexpected-bytes.mmdb",
        "absent",
    ],
)
def test_serve_refuses_a_bad_geoip_setting_in_one_line(
    maxmind_data: Path, rules_dir: Path, database: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "shopwindow", "serve", "--rules", str(rules_dir),
         "--geoip", str(maxmind_data / database), "--port", "1"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SHOPWINDOW_SECRET": SECRET},
    )  # fmt: skip
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    refusal = [line for line in lines if line.startswith("refusing to start: ")]
    assert len(refusal) == 1, proc.stderr
    assert "geoip setting (--geoip, SHOPWINDOW_GEOIP)" in refusal[0]


def test_a_live_server_survives_a_corrupt_database_and_takes_replacements(
    maxmind_data: Path,
    live_server: Callable[..., LiveServer],
    rules_dir: Path,
    tmp_path: Path,
) -> None:
    (rules_dir / "homepage.yaml").write_text(HOME_BY_COUNTRY)
    live = tmp_path / "GeoLite2-Country.mmdb"
    shutil.copyfile(_corrupt_city(maxmind_data), live)
    server = live_server(
        "--geoip", str(live), "--trusted-proxy", "127.0.0.1/32", "--default-country", "US"
    )
    failures: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=server.url) as http:
            while not stop.is_set():
                for path in ("/", "/de/", "/_sw/popup"):
                    r = http.get(path, headers={"x-forwarded-for": GB_VISITOR})
                    if r.status_code >= 500:
                        failures.append(f"{path}: {r.status_code}")

    def home(ip: str) -> str:
        r = http.get("/", headers={"x-forwarded-for": ip})
        assert r.status_code == 302, r.status_code
        return r.headers["location"].lower()

    worker = threading.Thread(target=traffic)
    worker.start()
    http = httpx.Client(base_url=server.url)
    try:
        # The damaged record: the default country, never a 500.
        assert home(GB_VISITOR) == "/us/"
        assert home(SE_VISITOR) == "/us/"
        text = http.get("/metrics").text
        assert "shopwindow_geoip_errors_total 2.0" in text
        assert 'shopwindow_last_load_timestamp_seconds{kind="geoip"}' in text

        # geoipupdate's way: a new file renamed into place.
        fresh = tmp_path / "download.mmdb"
        shutil.copyfile(_country_test(maxmind_data), fresh)
        os.replace(fresh, live)
        wait_for(lambda: home(GB_VISITOR) == "/gb/")
        assert home(SE_VISITOR) == "/se/"

        # Overwritten in place, first half only: refused, the previous copy serves on.
        write_geoip_db(fresh, {"81.2.69.0/24": "FR", "89.160.20.0/24": "FR"})
        whole = fresh.read_bytes()
        with live.open("r+b") as out:
            out.truncate(0)
            out.write(whole[: len(whole) // 2])
        wait_for(
            lambda: 'shopwindow_refused_loads_total{kind="geoip"} 1.0' in http.get("/metrics").text
        )
        assert home(GB_VISITOR) == "/gb/"
        with live.open("ab") as out:
            out.write(whole[len(whole) // 2 :])
        wait_for(lambda: home(GB_VISITOR) == "/fr/")
        assert home(SE_VISITOR) == "/fr/"
    finally:
        stop.set()
        worker.join()
        http.close()
    assert failures == []
    log = server.log.read_text()
    assert "Traceback" not in log
    assert log.count("GeoIP lookup of") == 1  # once a minute, however many visitors
    assert "GeoIP database not replaced, the previous one keeps serving" in log
