"""Keeping what a worker loaded out of the garbage collector's way.

A worker holds the catalog, the compiled rules and their caches: hundreds of
thousands of objects that live as long as it does. Every full pass of the
garbage collector walked all of them, 25-40 ms during which no request was
answered, every few seconds under load (the records queued for the stats
store are what grow the old generation). Frozen (`gc.freeze`), they are left
out of every pass; only what requests made since is walked.

A reload replaces the rules or the catalog: whatever of the old ones is held
in reference cycles would stay frozen forever, so a reload unfreezes, collects
once, and freezes the new ones.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("shopwindow")

_settled = False


def settle() -> None:
    """Collect, then freeze what is left (a worker's start, once it has loaded)."""
    global _settled
    gc.collect()
    gc.freeze()
    _settled = True


def resettle() -> None:
    """After a reload, in a worker that settled: the old rules and catalog collected, the new frozen."""
    if not _settled:
        return
    start = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.debug("heap settled again in %.0f ms", (time.perf_counter() - start) * 1000)


def settled() -> bool:
    return _settled
