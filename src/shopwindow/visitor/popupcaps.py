"""Popup frequency caps, read from and written to the popup history in the visitor cookie.

Each history entry is the list events.record_popup keeps:
[shown total, session of last show, shown in that session, day of last show,
shown that day, dismissed at (epoch seconds)]. A day is a UTC day, as there.

Besides one entry per rule, the history keeps one for all popups together under
ANY (a name no rule id and no beacon can use): it carries the shop-wide limits
and, in its last field, when the visitor last dismissed or took up a popup
since the last show, which ends popups for the rest of that session.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopwindow.rules.rules import Caps
from shopwindow.visitor.cookie import Visitor
from shopwindow.visitor.events import record_popup

ANY = "*"
_EMPTY = (0, 0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class PopupLimits:
    """Shop-wide limits over all popup rules together; 0 means no limit."""

    per_session: int = 0
    per_day: int = 0


def day_of(now: int) -> int:
    return now // 86400


def shown_in_session(entry: list[int] | tuple[int, ...], session: int) -> int:
    return entry[2] if entry[1] == session else 0


def shown_on_day(entry: list[int] | tuple[int, ...], day: int) -> int:
    return entry[4] if entry[3] == day else 0


def rule_allows(caps: Caps | None, visitor: Visitor, rule_id: str, now: int) -> bool:
    """Whether the rule's own caps let it show this visitor a popup now."""
    if caps is None:
        return True
    entry = visitor.popups.get(rule_id) or _EMPTY
    if (
        caps.per_session is not None
        and shown_in_session(entry, visitor.sessions) >= caps.per_session
    ):
        return False
    if caps.per_day is not None and shown_on_day(entry, day_of(now)) >= caps.per_day:
        return False
    if caps.per_visitor is not None and entry[0] >= caps.per_visitor:
        return False
    return not (
        caps.after_dismiss_days is not None
        and entry[5]
        and now - entry[5] < caps.after_dismiss_days * 86400
    )


def closed_this_session(visitor: Visitor) -> bool:
    """A popup was dismissed or taken up in this session: no other one until the next."""
    entry = visitor.popups.get(ANY)
    return bool(entry and entry[5] and entry[1] == visitor.sessions)


def shop_allows(limits: PopupLimits, visitor: Visitor, now: int) -> bool:
    entry = visitor.popups.get(ANY) or _EMPTY
    if limits.per_session and shown_in_session(entry, visitor.sessions) >= limits.per_session:
        return False
    return not (limits.per_day and shown_on_day(entry, day_of(now)) >= limits.per_day)


def record_show(visitor: Visitor, rule_id: str, now: int) -> None:
    """Count a show when the server hands out the popup (the browser's popup_shown does not)."""
    record_popup(visitor, rule_id, "popup_shown", now)
    record_popup(visitor, ANY, "popup_shown", now)
    visitor.popups[ANY][5] = 0  # dismissed "since the last show": nothing yet


def record_close(visitor: Visitor, now: int) -> None:
    """The visitor dismissed or took up a popup: quiet until their next session."""
    record_popup(visitor, ANY, "popup_dismissed", now)
    entry = visitor.popups[ANY]
    if entry[1] != visitor.sessions:
        # closed in a later session than the show (a popup left open for long)
        entry[1], entry[2] = visitor.sessions, 0
