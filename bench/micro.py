"""In-process calls the benchmark harness times: recommendations, a shoppable post's plan, a purchases import."""

from __future__ import annotations

import itertools
import resource
import tempfile
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from shopwindow.catalog.feed import build_catalog
from shopwindow.catalog.generate import generate_catalog
from shopwindow.catalog.recommendations import BENCH_PAIRINGS, BENCH_SPECS, recommend
from shopwindow.placements.shoppable import plan_post
from shopwindow.profiles.purchases import generate_rows, import_file, write_csv
from shopwindow.profiles.store import ProfileStore
from shopwindow.rules.posts import Post, Tag


def recommendations(n: int, seed: int = 1, samples: int = 64) -> Callable[[], int]:
    """A zero-argument call that recommends for the next sold-out product of an n-product catalog.

    The catalog comes from `generate.generate_catalog(n, seed)`; the calls cycle over
    `samples` sold-out products spread across the feed and three visitor genders, with a
    popular-now ranking of 200 products. Returns the number of products recommended.
    `make bench` times it at n=1,000 and n=100,000.
    """
    catalog = build_catalog(generate_catalog(n, seed))
    sold_out = sorted((p for p in catalog if not p.in_stock), key=lambda p: p.id)
    if not sold_out:
        raise ValueError(f"a catalog of {n} products has no sold-out product")
    step = max(1, len(sold_out) // samples)
    picked = sold_out[::step][:samples]
    live = tuple(p.id for p in catalog.best_sellers()[:400:2])
    cases = itertools.cycle([(p, g) for p in picked for g in (None, "women", "men")])

    def run() -> int:
        product, gender = next(cases)
        lists = recommend(
            catalog,
            product,
            BENCH_SPECS,
            visitor_gender=gender,
            pairings=BENCH_PAIRINGS,
            popular_now=live,
        )
        return sum(len(r.products) for r in lists)

    return run


def shoppable_post(n: int, seed: int = 1, tags: int = 4) -> Callable[[], int]:
    """A zero-argument call that plans the next post of an n-product catalog from scratch.

    What a post costs once per snapshot (answers then come from memory): each post tags
    `tags` products, one of them sold out (replaced by a similar one in stock), and gets
    its "complete the look" picks with the bench pairings. The catalog comes from
    `generate.generate_catalog(n, seed)`; calls cycle over 64 posts. Returns the number
    of products the plan shows. `make bench` may time it at n=1,000 and n=100,000.
    """
    catalog = build_catalog(generate_catalog(n, seed))
    products = sorted(catalog, key=lambda p: p.id)
    sold_out = [p for p in products if not p.in_stock]
    in_stock = [p for p in products if p.in_stock]
    if not sold_out or len(in_stock) < tags:
        raise ValueError(f"a catalog of {n} products cannot make bench posts")
    step = max(1, len(in_stock) // (64 * tags))
    posts = []
    for k in range(64):
        chosen = [in_stock[(k * tags + i) * step % len(in_stock)] for i in range(tags - 1)]
        chosen.append(sold_out[k * max(1, len(sold_out) // 64) % len(sold_out)])
        post_tags = tuple(Tag(p.id, 100.0 * (i + 1), 100.0) for i, p in enumerate(chosen))
        posts.append(Post(f"bench-{k}", "instagram", "/x.svg", 1080, 1350, post_tags))
    cycle = itertools.cycle(posts)

    def run() -> int:
        plan = plan_post(catalog, next(cycle), BENCH_PAIRINGS)
        return len(plan.products) + len(plan.look)

    return run


def bench_import(
    store: ProfileStore, rows: int = 1_000_000, *, seed: int = 1, folder: str | None = None
) -> dict[str, float]:
    """Generate a CSV export of `rows` lines, import it, and measure.

    `store` as the import command opens it: `SQLiteProfiles(path, bulk=True)` or
    `RedisProfiles(url, timeout=5.0)`. Call it in a fresh process for a
    meaningful `peak_rss_mb` (the process's high-water mark); `rss_growth_mb` is
    how much the import raised it.
    """
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = str(Path(tmp) / "purchases.csv")
        write_csv(generate_rows(rows, seed=seed), path)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = import_file(store, path, secret="bench", tz=ZoneInfo("UTC"))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": float(report.rows),
        "added": float(report.added),
        "seconds": report.seconds,
        "rows_per_s": report.rows_per_second,
        "peak_rss_mb": after / 1024,
        "rss_growth_mb": (after - before) / 1024,
    }
