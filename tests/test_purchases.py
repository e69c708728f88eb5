"""`shopwindow import purchases`: formats, column mapping, bad rows, idempotence, streaming."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopwindow.cli.main import main
from shopwindow.profiles.purchases import (
    RowError,
    generate_rows,
    import_file,
    parse_row,
    write_csv,
    write_jsonl,
)
from shopwindow.profiles.store_sqlite import SQLiteProfiles
from tests.conftest import SECRET

POS_CSV = """customer_id,email,product_id,price,full_price,store,timestamp
c1,Anna@Example.com,sku-1,49.90,true,Berlin Mitte,2024-03-01T10:00:00
c1,,sku-2,"19,90",false,Berlin Mitte,2024-03-01T10:00:00
c1,,sku-3,9.90,true,Hamburg Altona,2024-04-01 12:00
,anna@example.com,sku-4,5,yes,Berlin Mitte,1714000000
c2,not-an-email,sku-1,10,true,Köln,2024-01-01
c3,,sku-1,-3,true,Köln,2024-01-01
c4,,sku-1,3,maybe,Köln,2024-01-01
c5,,sku-1,3,true,Köln,yesterday
c6,,,3,true,Köln,2024-01-01
c7,,sku-1,3,true,Köln
c 8,,sku-1,3,true,Köln,2024-01-01
"""
BAD_LINES = [
    "pos.csv:6: email 'not-an-email' is not an email address",
    "pos.csv:7: price must be a number of 0 or more (returns are not imported)",
    "pos.csv:8: full_price 'maybe' must be true or false",
    "pos.csv:9: timestamp 'yesterday' is neither ISO 8601 nor seconds since 1970",
    "pos.csv:10: no product_id",
    "pos.csv:11: 6 fields, the header has 7",
    "pos.csv:12: customer_id must be 1-64 letters, digits or - _ . : @ +",
]


def run(args: list[str], folder: Path) -> Result:
    runner = CliRunner()
    return runner.invoke(
        main,
        args,
        env={"SHOPWINDOW_SECRET": SECRET, "SHOPWINDOW_PROFILE_DB": str(folder / "p.sqlite3")},
        catch_exceptions=False,
    )


def show(customer: str, folder: Path) -> dict[str, Any]:
    result = run(["profile", "show", customer], folder)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def pos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pos.csv").write_text(POS_CSV, encoding="utf-8")
    return tmp_path


def test_imports_good_rows_and_reports_bad_ones_by_line(pos: Path) -> None:
    result = run(["import", "purchases", "pos.csv"], pos)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == BAD_LINES
    assert "11 rows: 4 added, 0 already there, 7 bad" in result.stderr
    anna = show("c1", pos)
    assert anna["offline_orders"] == 3  # the two 2024-03-01 lines are one receipt
    assert anna["lifetime_value"] == pytest.approx(49.9 + 19.9 + 9.9 + 5)
    assert anna["preferred_store"] == "Berlin Mitte"
    assert {p["product_id"]: p["full_price"] for p in anna["products"]} == {
        "sku-1": True,
        "sku-2": False,
        "sku-3": True,
        "sku-4": True,
    }


def test_a_second_import_adds_nothing(pos: Path) -> None:
    run(["import", "purchases", "pos.csv"], pos)
    first = show("c1", pos)
    again = run(["import", "purchases", "pos.csv"], pos)
    assert "11 rows: 0 added, 4 already there, 7 bad" in again.stderr
    assert show("c1", pos) == first


def test_email_lookup_uses_the_keyed_hash(pos: Path) -> None:
    run(["import", "purchases", "pos.csv"], pos)
    result = run(["profile", "show", "--email", " ANNA@example.com"], pos)
    assert json.loads(result.stdout)["customer_id"] == "c1"
    raw = (pos / "p.sqlite3").read_bytes()
    assert b"anna" not in raw.lower()
    assert run(["profile", "show", "--email", "bob@example.com"], pos).exit_code == 1


def test_email_only_rows_are_matched_by_any_row_that_links_the_email(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text(
        "customer_id,email,product_id,price,full_price,store,timestamp\n"
        ",bob@example.com,sku-1,10,true,Berlin,2024-01-01\n"
        ",eve@example.com,sku-1,10,true,Berlin,2024-01-01\n"
        "c9,bob@example.com,sku-2,10,true,Berlin,2024-01-02\n"
    )
    result = run(["import", "purchases", str(tmp_path / "crm.csv")], tmp_path)
    assert result.stdout.strip().endswith(
        "crm.csv:3: no customer_id, and no row links this email to one"
    )
    (tmp_path / "more.csv").write_text(
        "customer_id,email,product_id,price,full_price,store,timestamp\n"
        ",Bob@example.com,sku-1,10,true,Berlin,2024-01-01\n"
    )
    assert run(["import", "purchases", str(tmp_path / "more.csv")], tmp_path).exit_code == 0
    assert show("c9", tmp_path)["offline_orders"] == 2  # the 01-01 receipt, from either file


def test_jsonl_with_mapped_columns(tmp_path: Path) -> None:
    rows = [
        {"Kunde": "k1", "Artikel": "sku-1", "Betrag": 12.5, "Filiale": "Wien", "Zeit": 1714000000},
        {
            "Kunde": "k1",
            "Artikel": "sku-2",
            "Betrag": 7,
            "Filiale": "",
            "Zeit": "2024-05-01T10:00:00Z",
            "Vollpreis": False,
        },
        "not an object",
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n\n")
    maps = [
        "Kunde=customer_id",
        "Artikel=product_id",
        "Betrag=price",
        "Filiale=store",
        "Zeit=timestamp",
        "Vollpreis=full_price",
    ]
    args = ["import", "purchases", str(path)]
    for m in maps:
        args += ["--map", m]
    result = run(args, tmp_path)
    assert result.exit_code == 1
    bad = result.stdout.splitlines()
    assert bad[0] == f"{path}:3: not a JSON object"
    assert bad[1].startswith(f"{path}:4: not JSON: ")
    assert len(bad) == 2
    k1 = show("k1", tmp_path)
    assert (k1["offline_orders"], k1["online_orders"], k1["preferred_store"]) == (1, 1, "Wien")


def test_a_header_without_the_needed_columns_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("Kunde;Artikel;Preis;Datum\nk1;sku-1;3;2024-01-01\n")
    result = run(["import", "purchases", str(path)], tmp_path)
    assert result.exit_code == 1
    assert "the header has no customer_id (or email), product_id, price, timestamp" in result.stderr
    assert "--map" in result.stderr
    ok = run(
        [
            "import",
            "purchases",
            str(path),
            "--map",
            "Kunde=customer_id",
            "--map",
            "Artikel=product_id",
            "--map",
            "Preis=price",
            "--map",
            "Datum=timestamp",
        ],
        tmp_path,
    )
    assert ok.exit_code == 0, ok.output
    assert show("k1", tmp_path)["online_orders"] == 1


def test_a_bad_map_option_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n")
    result = run(["import", "purchases", str(tmp_path / "x.csv"), "--map", "Kunde=kunde"], tmp_path)
    assert result.exit_code == 2
    assert "'kunde' is not one of customer_id" in result.stderr


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run(["import", "purchases", str(tmp_path / "nope.csv")], tmp_path)
    assert result.exit_code == 1
    assert "nope.csv: No such file or directory" in result.stderr


def test_gzipped_exports_import(tmp_path: Path) -> None:
    path = tmp_path / "pos.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(POS_CSV.split("c2,")[0])
    result = run(["import", "purchases", str(path)], tmp_path)
    assert result.exit_code == 0, result.output
    assert show("c1", tmp_path)["offline_orders"] == 3


def test_generated_exports_import_in_either_format(tmp_path: Path) -> None:
    rows = list(generate_rows(500, seed=3))
    write_csv(rows, tmp_path / "g.csv")
    write_jsonl(rows, tmp_path / "g.jsonl")
    store = SQLiteProfiles(str(tmp_path / "a.sqlite3"))
    csv_report = import_file(store, str(tmp_path / "g.csv"), secret="s", tz=ZoneInfo("UTC"))
    other = SQLiteProfiles(str(tmp_path / "b.sqlite3"))
    json_report = import_file(other, str(tmp_path / "g.jsonl"), secret="s", tz=ZoneInfo("UTC"))
    assert (csv_report.added, json_report.added, csv_report.bad) == (500, 500, 0)
    customer = rows[0]["customer_id"]
    assert store.get(customer) == other.get(customer)
    again = import_file(store, str(tmp_path / "g.jsonl"), secret="s", tz=ZoneInfo("UTC"))
    assert (again.added, again.duplicates) == (0, 500)


def _python_peak(tmp_path: Path, rows: int) -> int:
    path = tmp_path / f"g{rows}.csv"
    write_csv(generate_rows(rows, seed=1, customers=200), path)
    store = SQLiteProfiles(str(tmp_path / f"m{rows}.sqlite3"))
    tracemalloc.start()
    try:
        report = import_file(store, str(path), secret="s", tz=ZoneInfo("UTC"), batch=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.added == rows
    store.close()
    return peak


def test_import_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = _python_peak(tmp_path, 2_000)
    large = _python_peak(tmp_path, 20_000)  # ten times the rows
    assert large < small * 2


_any_text = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "customer_id",
                "email",
                "product_id",
                "price",
                "full_price",
                "store",
                "timestamp",
                "order_id",
            ]
        ),
        _any_text,
    )
)
def test_any_row_is_a_line_or_a_reason(row: dict[str, Any]) -> None:
    try:
        line = parse_row(row, secret="s", tz=ZoneInfo("UTC"), now=1.8e9)
    except RowError as exc:
        assert str(exc)
    else:
        assert line.product_id and line.price_cents >= 0 and line.at > 0
