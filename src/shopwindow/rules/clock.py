"""The shop's local time, worked out once per UTC minute and time zone (offsets change on whole minutes)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from lru import LRU

# A few entries per time zone: the current minute, and the one just before.
_LOCAL: LRU[tuple[int, tzinfo], datetime] = LRU(256)


def local_time(minute: int, tz: tzinfo) -> datetime:
    """The local time at the start of a UTC minute (epoch seconds // 60) in `tz`.

    Its date, weekday and hour are those of every moment in that minute.
    """
    key = (minute, tz)
    found = _LOCAL.get(key)
    if found is None:
        found = _LOCAL[key] = datetime.fromtimestamp(minute * 60, tz)
    return found
