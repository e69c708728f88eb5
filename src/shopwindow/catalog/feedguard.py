"""Whether a new product feed may replace the one serving: never an unreadable, empty or gutted one."""

from __future__ import annotations

from shopwindow.catalog.feed import Catalog, CatalogError


def refusal(
    path: str,
    fresh: Catalog | None,
    problem: str,
    row_errors: list[CatalogError],
    serving: int | None,
    max_loss_percent: int,
    accept: bool = False,
) -> str | None:
    """Why the feed at path must not go live, or None when it may.

    `serving` is how many products the running shop has (None at start, where
    there is nothing to compare with); `problem` says why `fresh` is None. An
    operator who means it (`shopwindow reload --accept-catalog`) may take a feed
    that is empty or much smaller, never one that cannot be read.
    """
    if fresh is None:
        return f"product feed {path} cannot be read: {problem}"
    if accept:
        return None
    if len(fresh) == 0:
        first = (
            f" (first: line {row_errors[0].line}: {row_errors[0].message})" if row_errors else ""
        )
        rows = f"; {len(row_errors):,} rows could not be read{first}" if row_errors else ""
        return f"product feed {path} has no products{rows}"
    if serving and max_loss_percent < 100:
        lost = serving - len(fresh)
        if lost * 100 > serving * max_loss_percent:
            return (
                f"product feed {path} has {len(fresh):,} products, {lost * 100 // serving}% "
                f"fewer than the {serving:,} serving (catalog_max_loss is {max_loss_percent}%; "
                "`shopwindow reload --accept-catalog` takes it anyway)"
            )
    return None
