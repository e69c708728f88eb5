"""Popular now: views, cart adds and purchases across all visitors, decayed, in process or Redis.

Decay is done by score scaling: an event at time t adds `weight * 2**((t - base) / half_life)`,
so older events weigh half as much per half-life without ever touching the stored scores.
The base moves forward every REBASE_HALF_LIVES half-lives, before the numbers grow large.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
from dataclasses import dataclass
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shopwindow.serve import metrics

log = logging.getLogger("shopwindow")

REBASE_HALF_LIVES = 20  # scores stay below 2**20 times the weights they sum
TOP = 200  # products a ranking keeps: enough to fill any list after filtering
DEGRADED_PART = "popularity"


@dataclass(frozen=True, slots=True)
class Ranking:
    """The most popular products right now, most popular first; `version` changes with it."""

    version: int
    ids: tuple[str, ...]
    scores: tuple[float, ...]  # decayed weight at the time the ranking was taken


NO_RANKING = Ranking(0, (), ())


class PopularityStore(Protocol):
    def record(self, product_id: str, weight: float, now: float) -> None:
        """Count an event; never blocks on the network."""

    def ranking(self, now: float) -> Ranking:
        """The current ranking; never blocks on the network."""

    def sync(self, now: float) -> None:
        """Exchange counts with the shared store (background thread); no-op in process."""

    def close(self) -> None: ...


def _grow(now: float, base: float, half_life: float) -> float:
    return math.pow(2.0, max(-REBASE_HALF_LIVES, (now - base) / half_life))


class LocalPopularity:
    """Counts in this process: bounded to `max_products`, ranking recomputed at most every `refresh` s."""

    def __init__(
        self,
        half_life: float,
        *,
        max_products: int = 5000,
        top: int = TOP,
        refresh: float = 1.0,
    ) -> None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        self.half_life = half_life
        self.max_products = max_products
        self.top = top
        self.refresh = refresh
        self._scores: dict[str, float] = {}
        self._base: float | None = None
        self._lock = threading.Lock()
        self._ranking = NO_RANKING
        self._ranked_at = -math.inf
        self._dirty = False

    def __len__(self) -> int:
        return len(self._scores)

    def record(self, product_id: str, weight: float, now: float) -> None:
        if weight <= 0:
            return
        with self._lock:
            if self._base is None:
                self._base = now
            elif (now - self._base) / self.half_life > REBASE_HALF_LIVES:
                self._rebase(now)
            scores = self._scores
            scores[product_id] = scores.get(product_id, 0.0) + weight * _grow(
                now, self._base, self.half_life
            )
            self._dirty = True
            # Prune in batches so the cost per event stays constant on average.
            if len(scores) > self.max_products + self.max_products // 4:
                kept = heapq.nlargest(self.max_products, scores.items(), key=_score)
                self._scores = dict(kept)

    def _rebase(self, now: float) -> None:
        assert self._base is not None
        shrink = 1.0 / _grow(now, self._base, self.half_life)
        self._scores = {k: v * shrink for k, v in self._scores.items() if v * shrink > 1e-9}
        self._base = now

    def ranking(self, now: float) -> Ranking:
        if self._dirty and now - self._ranked_at >= self.refresh:
            with self._lock:
                best = heapq.nlargest(self.top, self._scores.items(), key=_score)
                shrink = 1.0 / _grow(now, self._base or now, self.half_life)
                self._dirty = False
            self._ranked_at = now
            self._ranking = _next(
                self._ranking,
                tuple(pid for pid, _ in best),
                tuple(score * shrink for _, score in best),
            )
        return self._ranking

    def sync(self, now: float) -> None:
        return None

    def close(self) -> None:
        return None


def _next(previous: Ranking, ids: tuple[str, ...], scores: tuple[float, ...]) -> Ranking:
    # The version moves only when the order does: answers cached per version stay valid
    # while the scores merely decay.
    version = previous.version if ids == previous.ids else previous.version + 1
    return Ranking(version, ids, scores)


def _score(item: tuple[str, float]) -> tuple[float, str]:
    # Ties by id keep rankings stable between processes and runs.
    return (item[1], item[0])


class RedisPopularity:
    """Counts shared by every node in a Redis sorted set; this process's counts when Redis fails.

    Events are buffered in memory and sent by `sync` (a background thread), which also
    reads the shared ranking back, so requests never wait on Redis. Every event is also
    counted locally: if Redis errors or times out, the local ranking is served, the
    failure is counted in shopwindow_degraded_total{part="popularity"}, and Redis is tried
    again after `retry_after` seconds.
    """

    def __init__(
        self,
        url: str,
        half_life: float,
        *,
        prefix: str = "sw:popular",
        max_products: int = 5000,
        top: int = TOP,
        timeout: float = 0.1,
        retry_after: float = 5.0,
        fallback: LocalPopularity | None = None,
    ) -> None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        # No retries: a failed sync is simply tried again after `retry_after`, while
        # this node's own counts serve; waiting on backoffs would only delay that.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )
        self.half_life = half_life
        # The half-life is part of the key: changing it starts a fresh scale, never mixes two.
        self.prefix = f"{prefix}:{half_life:g}"
        self.max_products = max_products
        self.top = top
        self.retry_after = retry_after
        self.local = fallback or LocalPopularity(half_life, max_products=max_products, top=top)
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._pending_base: float | None = None
        self._ranking = NO_RANKING
        self._healthy = False
        self._retry_at = -math.inf
        self._carried: int | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    def record(self, product_id: str, weight: float, now: float) -> None:
        if weight <= 0:
            return
        self.local.record(product_id, weight, now)
        with self._lock:
            if self._pending_base is None:
                self._pending_base = now
            pending = self._pending
            pending[product_id] = pending.get(product_id, 0.0) + weight * _grow(
                now, self._pending_base, self.half_life
            )
            if len(pending) > 2 * self.max_products:  # Redis unreachable for long
                self._pending = dict(heapq.nlargest(self.max_products, pending.items(), key=_score))

    def ranking(self, now: float) -> Ranking:
        if self._healthy:
            return self._ranking
        return self.local.ranking(now)

    def sync(self, now: float) -> None:
        if now < self._retry_at:
            return
        with self._lock:
            pending, base = self._pending, self._pending_base
            self._pending, self._pending_base = {}, None
        try:
            self._push(pending, base, now)
            self._ranking = self._pull(now)
        except (redis.RedisError, OSError) as exc:
            metrics.DEGRADED.labels(DEGRADED_PART).inc()
            if self._healthy:
                log.warning("popularity: Redis failed (%s); serving this node's counts", exc)
            self._healthy = False
            self._retry_at = now + self.retry_after
            self._keep(pending, base)
            return
        if not self._healthy:
            log.info("popularity: using Redis")
        self._healthy = True

    def _keep(self, pending: dict[str, float], base: float | None) -> None:
        """Put unsent counts back, so they reach Redis once it answers again."""
        if not pending or base is None:
            return
        with self._lock:
            if self._pending_base is None:
                self._pending_base = base
            factor = _grow(base, self._pending_base, self.half_life)
            for pid, value in pending.items():
                self._pending[pid] = self._pending.get(pid, 0.0) + value * factor
            if len(self._pending) > 2 * self.max_products:
                kept = heapq.nlargest(self.max_products, self._pending.items(), key=_score)
                self._pending = dict(kept)

    def _period(self, now: float) -> tuple[int, float]:
        span = self.half_life * REBASE_HALF_LIVES
        period = math.floor(now / span)
        return period, period * span

    def key(self, period: int) -> str:
        return f"{self.prefix}:{period}"

    def _push(self, pending: dict[str, float], base: float | None, now: float) -> None:
        period, start = self._period(now)
        key = self.key(period)
        ttl = math.ceil(self.half_life * REBASE_HALF_LIVES * 2) + 60
        if self._carried != period:
            # A new period: bring the last one's scores over, scaled to the new base,
            # once for all nodes (SET NX); ZUNIONSTORE keeps increments already made.
            if self.client.set(f"{key}:carried", "1", nx=True, ex=ttl):
                self.client.zunionstore(
                    key, {key: 1.0, self.key(period - 1): math.pow(2.0, -REBASE_HALF_LIVES)}
                )
                self.client.expire(key, ttl)
            self._carried = period
        if not pending or base is None:
            return
        factor = _grow(base, start, self.half_life)
        pipe = self.client.pipeline(transaction=False)
        for pid, value in pending.items():
            pipe.zincrby(key, value * factor, pid)
        pipe.zremrangebyrank(key, 0, -(self.max_products + 1))
        pipe.expire(key, ttl)
        pipe.execute()

    def _pull(self, now: float) -> Ranking:
        period, start = self._period(now)
        rows: list[tuple[str, float]] = self.client.zrevrange(  # type: ignore[assignment]
            self.key(period), 0, self.top - 1, withscores=True
        )
        shrink = 1.0 / _grow(now, start, self.half_life)
        ids = tuple(str(pid) for pid, _ in rows)
        return _next(self._ranking, ids, tuple(float(score) * shrink for _, score in rows))

    def close(self) -> None:
        self.client.close()


def store_for(redis_url: str, half_life_hours: float) -> PopularityStore:
    """Redis when the shop has one (shared by every node), else this process's own counts."""
    half_life = half_life_hours * 3600
    if redis_url:
        return RedisPopularity(redis_url, half_life)
    return LocalPopularity(half_life)
