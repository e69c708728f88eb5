"""The experiment counters in Redis, shared by every node; keys start with `sw:stats:`.

- `sw:stats:x:{visitor}`  hash: rule -> JSON entry of the visitor's exposure log
  (expires `stats_retention_days` after the visitor's last exposure or event)
- `sw:stats:c:{rule}`     hash: `{variant}|{day}|{metric}` -> count (revenue as a float)
- `sw:stats:rules`        set of rule ids that have counts
- `sw:stats:o:{order_id}` marks an order already counted (expires with the retention)
- `sw:stats:decisions`    list: the decision log, newest first, trimmed to its size

Each record is one Lua script, so a read-modify-write of a visitor's log is
atomic however many nodes write at once; a batch is one pipelined round trip.
The scripts are the same steps as stats/attribution.py (standalone Redis or Sentinel;
the scripts touch counter keys they compute, which Redis Cluster does not allow).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from shopwindow.stats.store import (
    Click,
    Exposure,
    Purchase,
    Record,
    StatsLimits,
    Tally,
    Totals,
    Trace,
)

PREFIX = "sw:stats:"

EXPOSE = """
local rule, variant, day = ARGV[1], ARGV[2], ARGV[4]
local at, retention = tonumber(ARGV[3]), tonumber(ARGV[5])
local raw = redis.call('HGET', KEYS[1], rule)
local e = nil
if raw then e = cjson.decode(raw) end
local fresh = 0
if e == nil or e.v ~= variant or at - e.l > retention then
  e = {v = variant, d = day, f = at, l = at, c = 0, k = 0}
  fresh = 1
  redis.call('HINCRBY', KEYS[2], variant .. '|' .. day .. '|visitors', 1)
elseif at > e.l then
  e.l = at
end
redis.call('HINCRBY', KEYS[2], e.v .. '|' .. e.d .. '|exposures', 1)
redis.call('HSET', KEYS[1], rule, cjson.encode(e))
redis.call('EXPIRE', KEYS[1], math.ceil(retention))
redis.call('SADD', KEYS[3], rule)
return {e.v, e.d, fresh}
"""

ATTRIBUTE = """
local kind, only, prefix = ARGV[1], ARGV[4], ARGV[6]
local at, window, revenue = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[5]
if #KEYS > 1 then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[7])) then
    return {}
  end
end
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local rule = all[i]
  if only == '' or only == rule then
    local e = cjson.decode(all[i + 1])
    if e.f <= at and at - e.l <= window then
      local counts = prefix .. 'c:' .. rule
      local base = e.v .. '|' .. e.d .. '|'
      local first = 0
      if kind == 'click' then
        redis.call('HINCRBY', counts, base .. 'clicks', 1)
        if e.c == 0 then
          e.c = 1
          first = 1
          redis.call('HINCRBY', counts, base .. 'clickers', 1)
        end
      else
        redis.call('HINCRBY', counts, base .. 'orders', 1)
        redis.call('HINCRBYFLOAT', counts, base .. 'revenue', revenue)
        if e.k == 0 then
          e.k = 1
          first = 1
          redis.call('HINCRBY', counts, base .. 'converters', 1)
        end
      end
      if first == 1 then
        redis.call('HSET', KEYS[1], rule, cjson.encode(e))
      end
      table.insert(out, rule)
      table.insert(out, e.v)
      table.insert(out, e.d)
      table.insert(out, first)
    end
  end
end
return out
"""


class RedisStatsStore:
    def __init__(self, url: str, limits: StatsLimits, prefix: str = PREFIX) -> None:
        self.limits = limits
        self.prefix = prefix
        self.redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
        )
        self._expose = self.redis.register_script(EXPOSE)
        self._attribute = self.redis.register_script(ATTRIBUTE)

    def _key(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}{kind}:{name}" if name else f"{self.prefix}{kind}"

    def apply(self, batch: Sequence[Record]) -> list[Tally]:
        pipe = self.redis.pipeline(transaction=False)
        sent: list[Record | None] = []  # one per pipelined command, None for the log's
        retention = math.ceil(self.limits.retention_seconds)
        traces = 0
        for record in batch:
            if isinstance(record, Trace):
                pipe.lpush(self._key("decisions"), orjson.dumps(record.to_json()))
                sent.append(None)
                traces += 1
                continue
            at = round(record.at, 3)  # what Lua's number formatting keeps
            visitor_key = self._key("x", record.visitor)
            if isinstance(record, Exposure):
                self._expose(
                    keys=[visitor_key, self._key("c", record.rule), self._key("rules")],
                    args=[record.rule, record.variant, at, self.limits.day(at), retention],
                    client=pipe,
                )
            else:
                keys = [visitor_key]
                if isinstance(record, Purchase) and record.order_id:
                    keys.append(self._key("o", record.order_id))
                kind = "click" if isinstance(record, Click) else "purchase"
                only = record.rule or "" if isinstance(record, Click) else ""
                revenue = record.revenue if isinstance(record, Purchase) else 0.0
                self._attribute(
                    keys=keys,
                    args=[
                        kind,
                        at,
                        self.limits.attribution_seconds,
                        only,
                        repr(revenue),
                        self.prefix,
                        retention,
                    ],
                    client=pipe,
                )
            sent.append(record)
        if traces:
            pipe.ltrim(self._key("decisions"), 0, self.limits.decision_log_size - 1)
            sent.append(None)
        results = pipe.execute()
        return [
            tally
            for record, reply in zip(sent, results, strict=True)
            if record is not None
            for tally in _tallies(record, reply)
        ]

    def totals(self, since: str | None = None, rule: str | None = None) -> list[Totals]:
        members: set[str] = self.redis.smembers(self._key("rules"))  # type: ignore[assignment]
        rules = [rule] if rule is not None else sorted(members)
        out: dict[tuple[str, str], Totals] = {}
        for rule_id in rules:
            counts: dict[str, str] = self.redis.hgetall(self._key("c", rule_id))  # type: ignore[assignment]
            for field, value in counts.items():
                variant, day, metric = field.rsplit("|", 2)
                if since and day < since:
                    continue
                row = out.get((rule_id, variant))
                if row is None:
                    row = out[(rule_id, variant)] = Totals(rule_id, variant)
                row.add(metric, float(value))
        return [out[key] for key in sorted(out)]

    def traces(
        self, visitor: str | None = None, customer: str | None = None, limit: int = 50
    ) -> list[Trace]:
        oldest = time.time() - self.limits.decision_log_seconds
        out: list[Trace] = []
        for raw in self.redis.lrange(self._key("decisions"), 0, -1):
            trace = Trace.from_json(orjson.loads(raw))
            if trace.at < oldest:
                break  # newest first: the rest are older still
            if visitor is not None and trace.visitor != visitor:
                continue
            if customer is not None and trace.customer != customer:
                continue
            out.append(trace)
            if len(out) >= limit:
                break
        return out

    def prune(self, now: float) -> None:
        # Exposure logs and orders expire on their own; the decision log's tail is trimmed.
        key = self._key("decisions")
        oldest = now - self.limits.decision_log_seconds
        for _ in range(10_000):
            tail = self.redis.lindex(key, -1)
            if tail is None or Trace.from_json(orjson.loads(tail)).at >= oldest:
                return
            self.redis.rpop(key)

    def close(self) -> None:
        self.redis.close()


def _tallies(record: Record, reply: list[Any]) -> list[Tally]:
    if isinstance(record, Exposure):
        variant, day, fresh = reply
        out = [Tally("exposures", record.rule, variant, day)]
        if int(fresh):
            out.insert(0, Tally("visitors", record.rule, variant, day))
        return out
    out = []
    for i in range(0, len(reply), 4):
        rule, variant, day, first = reply[i : i + 4]
        if isinstance(record, Click):
            out.append(Tally("clicks", rule, variant, day))
            if int(first):
                out.append(Tally("clickers", rule, variant, day))
        elif isinstance(record, Purchase):
            out.append(Tally("orders", rule, variant, day))
            out.append(Tally("revenue", rule, variant, day, record.revenue))
            if int(first):
                out.append(Tally("converters", rule, variant, day))
    return out
