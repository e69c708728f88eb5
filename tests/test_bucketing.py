"""Split bucketing: reproducible, evenly spread, sticky across nodes and weight changes."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.app import create_app
from shopwindow.cli.main import main
from shopwindow.rules.rules import HOLDOUT, Split, Variant, bucket_of
from shopwindow.settings import PROJECT_ROOT
from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET, build_settings

IDS = [f"visitor-{n}" for n in range(100_000)]


def split(weights: dict[str, float], holdout: float = 0, seed: str = "exp") -> Split:
    return Split.build(seed, [Variant(name, w, {}) for name, w in weights.items()], holdout)


def names(s: Split, ids: list[str]) -> list[str]:
    out = []
    for visitor in ids:
        variant = s.bucket(visitor)
        out.append(variant.name if variant else HOLDOUT)
    return out


def test_buckets_spread_evenly_over_100000_visitors() -> None:
    shares = Counter(names(split({"a": 50, "b": 30, "c": 20}, holdout=10), IDS))
    total = len(IDS)
    # Binomial sd at n=100,000 is at most 0.16 points; 0.6 points is a wide margin.
    assert shares[HOLDOUT] / total == pytest.approx(0.10, abs=0.006)
    assert shares["a"] / total == pytest.approx(0.45, abs=0.006)
    assert shares["b"] / total == pytest.approx(0.27, abs=0.006)
    assert shares["c"] / total == pytest.approx(0.18, abs=0.006)


def test_raw_buckets_are_uniform() -> None:
    tenths = Counter(bucket_of("exp", visitor) // 1000 for visitor in IDS)
    expected = len(IDS) / 10
    chi_squared = sum((tenths[d] - expected) ** 2 / expected for d in range(10))
    assert chi_squared < 27.9  # chi-squared, 9 degrees of freedom, p = 0.001


def test_the_holdout_takes_the_same_share_of_every_variant() -> None:
    without = split({"a": 50, "b": 50})
    with_holdout = split({"a": 50, "b": 50}, holdout=20)
    per_variant: Counter[tuple[str, str]] = Counter()
    for visitor, plain, held in zip(
        IDS[:40_000], names(without, IDS[:40_000]), names(with_holdout, IDS[:40_000]), strict=True
    ):
        per_variant[(plain, held)] += 1
        if held != HOLDOUT:
            assert held == plain, visitor  # a holdout never moves anyone between variants
    for name in ("a", "b"):
        held_share = per_variant[(name, HOLDOUT)] / (
            per_variant[(name, HOLDOUT)] + per_variant[(name, name)]
        )
        assert held_share == pytest.approx(0.20, abs=0.012)


def test_changing_weights_moves_only_the_visitors_it_must() -> None:
    before = names(split({"a": 50, "b": 50}), IDS)
    after = names(split({"a": 30, "b": 70}), IDS)
    moves = Counter((b, a) for b, a in zip(before, after, strict=True) if b != a)
    assert set(moves) == {("a", "b")}
    assert moves[("a", "b")] / len(IDS) == pytest.approx(0.20, abs=0.006)


def test_the_same_visitor_always_gets_the_same_bucket() -> None:
    s = split({"a": 1, "b": 1, "c": 1}, holdout=5)
    assert names(s, IDS[:2000]) == names(split({"a": 1, "b": 1, "c": 1}, holdout=5), IDS[:2000])
    other_seed = split({"a": 1, "b": 1, "c": 1}, holdout=5, seed="other")
    assert names(s, IDS[:2000]) != names(other_seed, IDS[:2000])


def test_a_remembered_variant_is_kept_while_it_still_exists() -> None:
    s = split({"a": 0, "b": 100})
    assert s.assign("visitor-2", None).name == "b"  # type: ignore[union-attr]
    assert s.assign("visitor-2", "b").name == "b"  # type: ignore[union-attr]
    assert s.assign("visitor-2", "a").name == "b"  # type: ignore[union-attr]  # weight 0
    assert s.assign("visitor-2", "gone").name == "b"  # type: ignore[union-attr]
    kept = split({"a": 5, "b": 95}).assign("visitor-2", "a")
    assert kept is not None and kept.name == "a"


def test_a_remembered_holdout_ends_with_the_holdout() -> None:
    assert split({"a": 1}, holdout=10).assign("visitor-2", HOLDOUT) is None
    released = split({"a": 1}, holdout=0).assign("visitor-2", HOLDOUT)
    assert released is not None and released.name == "a"


# --- the documented algorithm -----------------------------------------------------------

DOC = PROJECT_ROOT / "docs" / "experiments.md"
ROW = re.compile(
    r"^\| (\S+) \| `([^`]+)` \| `([0-9a-f]{16})` \| (\d+) \| (\d+) \| ([\w ]+) \|$", re.M
)


def test_the_worked_example_in_the_docs_is_right() -> None:
    rows = ROW.findall(DOC.read_text())
    assert len(rows) >= 4
    s = split({"a": 50, "b": 50}, holdout=10, seed="gender-home")
    for visitor, text, hex_digest, number, bucket, result in rows:
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        assert digest.hex() == hex_digest
        assert int.from_bytes(digest, "big") == int(number)
        assert int(number) % 10_000 == int(bucket)
        if ":holdout:" in text:
            assert bucket_of("gender-home:holdout", visitor) == int(bucket)
            assert (result == "holdout") == (int(bucket) < 1000)
        else:
            assert bucket_of("gender-home", visitor) == int(bucket)
            assert s.assign(visitor).name == result  # type: ignore[union-attr]
    results = {r[5] for r in rows}
    assert {"a", "b", "holdout"} <= results


# --- over HTTP: the demo's gender-home split ----------------------------------------------


def cookie_for(visitor_id: str, **state: object) -> str:
    now = int(time.time())
    visitor = Visitor(id=visitor_id, new=False, seen=now, affinity_at=now, **state)  # type: ignore[arg-type]
    return CookieCodec(SECRET, 365).encode(visitor)


def women_shopper(visitor_id: str) -> str:
    return cookie_for(visitor_id, gender={"women": 5.0}, category={"dresses": 3.0, "jeans": 2.0})


def get(client: TestClient, path: str, cookie: str | None = None) -> object:
    client.cookies.clear()
    headers = {"cookie": f"sw={cookie}"} if cookie else {}
    return client.get(path, headers=headers)


def test_a_held_out_visitor_gets_the_next_rule(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    held = client.get("/", headers={"cookie": f"sw={women_shopper('visitor-12')}"})
    assert held.headers["x-shopwindow-rules"] == "gender-home:holdout, country-home"
    assert re.fullmatch(r"/[a-z]{2}/", held.headers["location"])
    client.cookies.clear()
    shown = client.get("/", headers={"cookie": f"sw={women_shopper('visitor-2')}"})
    assert shown.headers["x-shopwindow-rules"] == "gender-home:a"
    assert shown.headers["location"].endswith("/women/")


def test_the_variant_shows_its_headline_on_the_storefront(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    b = client.get("/", headers={"cookie": f"sw={women_shopper('visitor-1')}"})
    assert b.headers["x-shopwindow-rules"] == "gender-home:b"
    page = client.get(b.headers["location"], headers={"cookie": f"sw={b.cookies['sw']}"})
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == "gender-home:b"
    assert "<h1>Welcome back</h1>" in page.text
    assert 'data-sw-rule="gender-home"' in page.text
    women = b.headers["location"]
    client.cookies.clear()
    a = client.get(women, headers={"cookie": f"sw={women_shopper('visitor-2')}"})
    assert "<h1>New in for you</h1>" in a.text
    client.cookies.clear()
    men = women.replace("/women/", "/men/")
    other_page = client.get(men, headers={"cookie": f"sw={women_shopper('visitor-2')}"})
    assert "x-shopwindow-rules" not in other_page.headers
    assert "<h1>New in for you</h1>" not in other_page.text


def test_a_visitor_keeps_their_variant_on_another_node_after_the_weights_change(
    make_client: Callable[..., TestClient], rules_dir: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "rules-changed"
    shutil.copytree(rules_dir, changed)
    homepage = changed / "homepage.yaml"
    text = homepage.read_text()
    assert text.count("weight: 50") == 2
    homepage.write_text(
        text.replace("weight: 50", "weight: 5", 1).replace("weight: 50", "weight: 95")
    )
    node_a = make_client()
    node_b = TestClient(
        create_app(build_settings(changed), watch=False),
        client=("203.0.113.9", 50000),
        follow_redirects=False,
    )

    first = node_a.get("/", headers={"cookie": f"sw={women_shopper('visitor-2')}"})
    assert first.headers["x-shopwindow-rules"] == "gender-home:a"
    remembered = first.cookies["sw"]

    again = node_b.get("/", headers={"cookie": f"sw={remembered}"})
    assert again.headers["x-shopwindow-rules"] == "gender-home:a"
    # A visitor the split has not seen yet follows the new weights (bucket 790 >= 500).
    node_b.cookies.clear()
    newcomer = node_b.get("/", headers={"cookie": f"sw={women_shopper('visitor-2')}"})
    assert newcomer.headers["x-shopwindow-rules"] == "gender-home:b"
    node_b.close()


def test_the_same_visitor_gets_the_same_variant_on_every_node(
    make_client: Callable[..., TestClient],
) -> None:
    nodes = [make_client(), make_client()]
    for n in range(30):
        cookie = women_shopper(f"shopper-{n}")
        labels = set()
        for node in nodes:
            node.cookies.clear()
            labels.add(
                node.get("/", headers={"cookie": f"sw={cookie}"}).headers["x-shopwindow-rules"]
            )
        assert len(labels) == 1


@pytest.mark.parametrize(
    ("split_yaml", "message"),
    [
        ("{variants: {'a b': 50, c: 50}}", "a variant name uses letters"),
        ("{variants: {holdout: 50}}", "'holdout' is reserved"),
        ("{variants: {a: 50}, holdout: 100}", "`holdout` is a percentage"),
        ("{variants: {a: 50}, seed: [x]}", "`seed` is a text"),
        ("{variants: {a: 0, b: 0}}", "add up to 0"),
    ],
)
def test_bad_splits_are_reported_with_their_place(
    tmp_path: Path, split_yaml: str, message: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "homepage.yaml").write_text(
        f"- id: r\n  then:\n    path: /de/\n  split: {split_yaml}\n"
    )
    result = CliRunner().invoke(main, ["check", str(rules), "--catalog", ""])
    assert result.exit_code == 1
    assert re.search(r"homepage\.yaml:4:\d+: .*" + re.escape(message), result.output), result.output
