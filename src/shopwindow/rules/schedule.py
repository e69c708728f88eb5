"""Rule schedules: a start, an end and recurring windows, in the shop's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopwindow.rules.conditions import CompileError, parse_time
from shopwindow.rules.yamlsrc import Node

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Window:
    """A recurring window: on matching days, from a wall-clock time, for a duration."""

    monthdays: frozenset[int] | None
    weekdays: frozenset[int] | None
    months: frozenset[int] | None
    start: time
    # Wall-clock length: "day 17 for 24 h" ends at midnight even on a DST day.
    length: timedelta

    def matches_day(self, day: date) -> bool:
        return (
            (self.monthdays is None or day.day in self.monthdays)
            and (self.weekdays is None or day.weekday() in self.weekdays)
            and (self.months is None or day.month in self.months)
        )

    def span_days(self) -> int:
        return int((datetime.combine(date.min, self.start) + self.length - datetime.min).days)


@dataclass(frozen=True, slots=True)
class Schedule:
    timezone: tzinfo
    start: datetime | None
    end: datetime | None  # exclusive
    windows: tuple[Window, ...]

    def active(self, moment: datetime) -> bool:
        if self.start is not None and moment < self.start:
            return False
        if self.end is not None and moment >= self.end:
            return False
        if not self.windows:
            return True
        local = moment.astimezone(self.timezone).replace(tzinfo=None)
        return any(self._in_window(w, local) for w in self.windows)

    def _in_window(self, window: Window, local: datetime) -> bool:
        for back in range(window.span_days() + 1):
            day = local.date() - timedelta(days=back)
            if window.matches_day(day):
                opens = datetime.combine(day, window.start)
                if opens <= local < opens + window.length:
                    return True
        return False

    def next_start(self, after: datetime, horizon_days: int = 400) -> datetime | None:
        """When this schedule next opens after `after` (for 'next drop' teasers)."""
        if self.end is not None and after >= self.end:
            return None
        floor = max(after, self.start) if self.start is not None else after
        if not self.windows:
            return self.start if self.start is not None and self.start > after else None
        local_floor = floor.astimezone(self.timezone).replace(tzinfo=None)
        best: datetime | None = None
        for ahead in range(horizon_days):
            day = local_floor.date() + timedelta(days=ahead)
            for window in self.windows:
                if not window.matches_day(day):
                    continue
                opens = datetime.combine(day, window.start)
                if opens > local_floor and (best is None or opens < best):
                    best = opens
            if best is not None:
                break
        if best is None:
            return None
        moment = best.replace(tzinfo=self.timezone)
        if self.end is not None and moment >= self.end:
            return None
        return moment


def compile_schedule(node: Node, default_tz: tzinfo) -> Schedule:
    if node.kind != "map":
        raise CompileError(node.error("`schedule` must be a mapping (start, end, every, timezone)"))
    allowed = {"timezone", "start", "end", "every"}
    if (error := node.unknown_key(allowed, "schedule field")) is not None:
        raise CompileError(error)
    tz = default_tz
    tz_node = node.get("timezone")
    if tz_node is not None:
        tz = zone(tz_node)
    start = parse_time(n, tz) if (n := node.get("start")) is not None else None
    end = parse_time(n, tz) if (n := node.get("end")) is not None else None
    if start is not None and end is not None and end <= start:
        raise CompileError(node.get("end").error("schedule ends before it starts"))  # type: ignore[union-attr]
    windows: list[Window] = []
    every = node.get("every")
    if every is not None:
        items = every.items if every.kind == "list" else [every]
        windows = [_window(item) for item in items]
    return Schedule(tz, start, end, tuple(windows))


def zone(node: Node) -> tzinfo:
    try:
        return ZoneInfo(str(node.value))
    except (ZoneInfoNotFoundError, ValueError):
        raise CompileError(
            node.error(f"unknown time zone {node.value!r} (use e.g. Europe/Berlin)")
        ) from None


def _window(node: Node) -> Window:
    if node.kind != "map":
        raise CompileError(node.error("a window is a mapping such as {monthday: 17, hours: 24}"))
    allowed = {"monthday", "weekday", "weekdays", "month", "from", "to", "hours"}
    if (error := node.unknown_key(allowed, "window field")) is not None:
        raise CompileError(error)
    monthdays = _ints(node.get("monthday"), 1, 31, "monthday")
    months = _ints(node.get("month"), 1, 12, "month")
    wd_node = node.get("weekdays") or node.get("weekday")
    weekdays = _weekdays(wd_node) if wd_node is not None else None
    start = _clock(node.get("from")) if node.get("from") is not None else time(0, 0)
    hours_node, to_node = node.get("hours"), node.get("to")
    if hours_node is not None and to_node is not None:
        raise CompileError(to_node.error("give either `to` or `hours`, not both"))
    if hours_node is not None:
        hours = hours_node.value
        if (
            isinstance(hours, bool)
            or not isinstance(hours, int | float)
            or not 0 < hours <= 24 * 31
        ):
            raise CompileError(hours_node.error("`hours` must be a number between 0 and 744"))
        length = timedelta(hours=hours)
    elif to_node is not None:
        until = _clock(to_node)
        length = datetime.combine(date.min, until) - datetime.combine(date.min, start)
        if length <= timedelta(0):
            length += timedelta(days=1)  # 22:00 to 02:00 crosses midnight
    else:
        length = timedelta(days=1) - (datetime.combine(date.min, start) - datetime.min)
    if monthdays is None and weekdays is None and months is None:
        monthdays = None  # every day
    return Window(monthdays, weekdays, months, start, length)


def _ints(node: Node | None, low: int, high: int, name: str) -> frozenset[int] | None:
    if node is None:
        return None
    items = node.items if node.kind == "list" else [node]
    out: set[int] = set()
    for item in items:
        v = item.value
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise CompileError(item.error(f"`{name}` takes whole numbers {low}-{high}"))
        out.add(v)
    return frozenset(out)


def _weekdays(node: Node) -> frozenset[int]:
    items = node.items if node.kind == "list" else [node]
    out: set[int] = set()
    for item in items:
        name = str(item.value).lower()[:3]
        if name not in WEEKDAYS:
            raise CompileError(
                item.error(f"unknown weekday {item.value!r}; use {', '.join(WEEKDAYS)}")
            )
        out.add(WEEKDAYS.index(name))
    return frozenset(out)


def _clock(node: Node | None) -> time:
    assert node is not None
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 10:30 as a sexagesimal number (630)
        value = f"{value // 60:02d}:{value % 60:02d}"
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise CompileError(
            node.error(f'{node.value!r} is not a time of day (use "09:30")')
        ) from None
