"""The shared profile store for many nodes: Redis, pooled, with timeouts of a few milliseconds.

Keys (all under `sw:profile:`; the braces keep one customer's keys in one
cluster slot, and no customer id can contain a brace):

    sw:profile:{C}           hash: online_orders, offline_orders, ltv (cents), first, last,
                             email, s:<store> (orders there), t:<store> (last sale there)
    sw:profile:{C}:lines     set of line keys (what makes a re-import add nothing)
    sw:profile:{C}:orders    set of order keys
    sw:profile:{C}:bought    hash product id -> "<full price 0|1>:<last bought at>"
    sw:profile:{C}:activity  JSON: views, affinity, cart, popup history (model.Activity)
    sw:profile:{C}:history   sorted set of the newest lines (JSON), scored by time of sale:
                             the order history the staff view shows
    sw:profile:{C}:reminders hash drop -> when the customer asked to hear of it
    sw:profile:email:<hash>  customer id
    sw:profile:reminders     hash "<drop> <customer id>" -> when asked (every drop's list)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from shopwindow.profiles.model import (
    MAX_ORDERS,
    MAX_PRODUCTS,
    Activity,
    DropReminder,
    Order,
    Profile,
    PurchaseLine,
    merge_activity,
    orders_of,
    seen_span,
)
from shopwindow.profiles.store import StoreUnavailable

PREFIX = "sw:profile:"
# Lines kept per customer for the order history (the totals above count every line).
HISTORY_LINES = 500

# One line, atomically: stored once, and only a new line moves the totals.
ADD_LINE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local p = KEYS[1]
local at = tonumber(ARGV[7])
redis.call('HINCRBY', p, 'ltv', ARGV[5])
if redis.call('SADD', KEYS[3], ARGV[2]) == 1 then
  redis.call('HINCRBY', p, ARGV[3] .. '_orders', 1)
  if ARGV[4] ~= '' then redis.call('HINCRBY', p, 's:' .. ARGV[4], 1) end
end
if ARGV[4] ~= '' then
  local t = redis.call('HGET', p, 't:' .. ARGV[4])
  if not t or at > tonumber(t) then redis.call('HSET', p, 't:' .. ARGV[4], ARGV[7]) end
end
local first = redis.call('HGET', p, 'first')
if not first or at < tonumber(first) then redis.call('HSET', p, 'first', ARGV[7]) end
local last = redis.call('HGET', p, 'last')
if not last or at > tonumber(last) then redis.call('HSET', p, 'last', ARGV[7]) end
local full = tonumber(ARGV[6])
local bought_at = ARGV[7]
local b = redis.call('HGET', KEYS[4], ARGV[8])
if b then
  local sep = string.find(b, ':', 1, true)
  if tonumber(string.sub(b, 1, sep - 1)) > full then full = 1 end
  local prev = string.sub(b, sep + 1)
  if tonumber(prev) > at then bought_at = prev end
end
redis.call('HSET', KEYS[4], ARGV[8], full .. ':' .. bought_at)
return 1
"""


def profile_key(customer_id: str) -> str:
    return f"{PREFIX}{{{customer_id}}}"


REMINDERS_KEY = PREFIX + "reminders"


def email_key(email_hash: str) -> str:
    return f"{PREFIX}email:{email_hash}"


class RedisProfiles:
    """Profiles in Redis. Reads use the request path's short timeout; writes a patient one."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.005,
        bulk_timeout: float = 5.0,
        half_life_days: float = 30.0,
    ) -> None:
        self.url = url
        self.half_life_days = half_life_days
        # No retries on the request path: one short timeout, then the cookie alone.
        self._fast = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._bulk = redis.Redis.from_url(
            url,
            socket_timeout=bulk_timeout,
            socket_connect_timeout=bulk_timeout,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        self._add_line = self._bulk.register_script(ADD_LINE)

    def get(self, customer_id: str) -> Profile | None:
        key = profile_key(customer_id)
        pipe = self._fast.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.hgetall(key + ":bought")
        pipe.get(key + ":activity")
        try:
            fields, bought, raw_activity = pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        if not fields and not raw_activity:
            return None
        return _profile(customer_id, _text(fields), _text(bought), raw_activity)

    def customer_for_email(self, email_hash: str) -> str | None:
        try:
            value = self._fast.get(email_key(email_hash))
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return value.decode() if isinstance(value, bytes) else None

    def rekey_email(self, old_hash: str, new_hash: str, customer_id: str) -> None:
        pipe = self._bulk.pipeline(transaction=True)
        pipe.set(email_key(new_hash), customer_id)
        pipe.delete(email_key(old_hash))
        pipe.hset(profile_key(customer_id), "email", new_hash)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def add_purchases(self, lines: Sequence[PurchaseLine]) -> int:
        if not lines:
            return 0
        pipe = self._bulk.pipeline(transaction=False)
        for line in lines:
            key = profile_key(line.customer_id)
            self._add_line(
                keys=[key, key + ":lines", key + ":orders", key + ":bought"],
                args=[
                    line.key,
                    line.order_key,
                    line.channel,
                    line.store,
                    line.price_cents,
                    int(line.full_price),
                    line.at,
                    line.product_id,
                ],
                client=pipe,
            )
        emails = {line.email_hash: line.customer_id for line in lines if line.email_hash}
        for digest, customer_id in emails.items():
            pipe.hset(profile_key(customer_id), "email", digest)
            pipe.set(email_key(digest), customer_id)
        # The history after the scripts (their answers are counted below): a line's member
        # is the same bytes every time, so a re-import leaves the set as it was.
        histories: set[str] = set()
        for line in lines:
            key = profile_key(line.customer_id) + ":history"
            pipe.zadd(key, {history_member(line): line.at})
            histories.add(key)
        for key in histories:
            pipe.zremrangebyrank(key, 0, -HISTORY_LINES - 1)
        try:
            results = pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return sum(int(r) for r in results[: len(lines)])

    def orders(self, customer_id: str, limit: int = 20) -> list[Order]:
        limit = max(1, min(limit, MAX_ORDERS))
        key = profile_key(customer_id) + ":history"
        try:
            raw: list[tuple[bytes, float]] = self._bulk.zrevrange(  # type: ignore[assignment]
                key, 0, HISTORY_LINES - 1, withscores=True
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        rows = []
        for member, score in raw:
            try:
                _, order, product, cents, full, store = orjson.loads(member)
                rows.append(
                    (str(order), str(store), int(score), str(product), int(cents), bool(full))
                )
            except (orjson.JSONDecodeError, TypeError, ValueError):
                continue  # a member this version cannot read is left out, not an error
        return orders_of(rows, limit)

    def update_activity(self, reports: Mapping[str, Activity]) -> None:
        for customer_id, report in reports.items():
            key = profile_key(customer_id) + ":activity"

            def merge(pipe: Pipeline, key: str = key, report: Activity = report) -> None:
                stored = Activity.from_json(pipe.get(key))
                merged = merge_activity(stored, report, self.half_life_days)
                pipe.multi()
                pipe.set(key, merged.to_json())

            try:
                # WATCH / MULTI: two nodes writing the same customer retry, never lose a write.
                self._bulk.transaction(merge, key)
            except redis.RedisError as exc:
                raise StoreUnavailable(f"redis: {exc}") from exc

    def remind(self, customer_id: str, drop: str, at: int) -> None:
        try:
            pipe = self._bulk.pipeline(transaction=False)
            pipe.hset(profile_key(customer_id) + ":reminders", drop, at)
            pipe.hset(REMINDERS_KEY, f"{drop} {customer_id}", at)
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def reminders(self, drop: str | None = None) -> list[DropReminder]:
        try:
            raw: dict[bytes, bytes] = self._bulk.hgetall(REMINDERS_KEY)  # type: ignore[assignment]
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        found = []
        for field, at in raw.items():
            drop_id, _, customer_id = field.decode().partition(" ")
            if drop is None or drop_id == drop:
                found.append(DropReminder(drop_id, customer_id, int(at)))
        return sorted(found, key=lambda r: (r.drop, r.at, r.customer_id))

    def forget(self, customer_id: str) -> bool:
        key = profile_key(customer_id)
        try:
            digest = self._bulk.hget(key, "email")
            asked: list[bytes] = self._bulk.hkeys(key + ":reminders")  # type: ignore[assignment]
            if asked:
                self._bulk.hdel(REMINDERS_KEY, *(f"{d.decode()} {customer_id}" for d in asked))
            parts = (":lines", ":orders", ":bought", ":activity", ":history", ":reminders")
            keys = [key, *(key + part for part in parts)]
            # The email's entry only if it still names this customer (another may have taken it).
            if (
                isinstance(digest, bytes)
                and self._bulk.get(email_key(digest.decode())) == customer_id.encode()
            ):
                keys.append(email_key(digest.decode()))
            return int(self._bulk.delete(*keys)) > 0
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def ping(self) -> None:
        try:
            self._fast.ping()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def close(self) -> None:
        self._fast.close()
        self._bulk.close()


def history_member(line: PurchaseLine) -> bytes:
    """A line in the order history: the same line gives the same bytes, so it is stored once."""
    return orjson.dumps(
        [line.key, line.order_key, line.product_id, line.price_cents, line.full_price, line.store]
    )


def _text(mapping: Mapping[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in mapping.items()
    }


def _profile(
    customer_id: str, fields: dict[str, str], bought: dict[str, str], raw_activity: Any
) -> Profile:
    stores: list[tuple[int, int, str]] = []
    for name, value in fields.items():
        if name.startswith("s:"):
            store = name[2:]
            stores.append((int(value), int(fields.get("t:" + store, "0")), store))
    # Most orders first, then the most recent sale, then the name: as the SQLite store orders.
    stores.sort(key=lambda s: (-s[0], -s[1], s[2]))
    products = []
    for pid, value in bought.items():
        full, _, at = value.partition(":")
        products.append((int(at or 0), pid, full == "1"))
    products.sort(key=lambda p: (-p[0], p[1]))
    activity = Activity.from_json(raw_activity)
    first_seen, last_seen = seen_span(
        (int(fields.get("first", 0)), int(fields.get("last", 0))),
        (activity.first_seen, activity.last_seen),
    )
    return Profile(
        customer_id=customer_id,
        online_orders=int(fields.get("online_orders", 0)),
        offline_orders=int(fields.get("offline_orders", 0)),
        lifetime_value_cents=int(fields.get("ltv", 0)),
        preferred_store=stores[0][2] if stores else None,
        first_seen=first_seen,
        last_seen=last_seen,
        email_hash=fields.get("email", ""),
        products=tuple((pid, full) for _, pid, full in products[:MAX_PRODUCTS]),
        activity=activity,
    )
