"""Popup caps as pure functions: whatever a visitor does, no cap is ever exceeded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.rules.rules import Caps
from shopwindow.visitor import popupcaps
from shopwindow.visitor.cookie import Visitor
from shopwindow.visitor.events import record_popup
from shopwindow.visitor.popupcaps import PopupLimits

START = 1_773_144_000  # a UTC noon
RULE = "offer"

steps = st.lists(
    st.one_of(
        st.just(("ask",)),
        st.just(("dismiss",)),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=3 * 86400)),
        st.just(("new-session",)),
    ),
    max_size=60,
)
caps = st.builds(
    Caps,
    per_session=st.none() | st.integers(0, 3),
    per_day=st.none() | st.integers(0, 4),
    per_visitor=st.none() | st.integers(0, 6),
    after_dismiss_days=st.none() | st.sampled_from([0.5, 1, 3]),
)
limits = st.builds(PopupLimits, per_session=st.integers(0, 3), per_day=st.integers(0, 4))


@settings(max_examples=150, deadline=None)
@given(steps=steps, caps=caps, limits=limits)
def test_shows_never_exceed_any_cap(
    steps: list[tuple[object, ...]], caps: Caps, limits: PopupLimits
) -> None:
    visitor = Visitor(id="v", seen=START)
    now = START
    shows: list[tuple[int, int, int]] = []  # (session, time, step) of every show
    dismissals: list[tuple[int, int, int]] = []  # (session, time, step)
    for n, step in enumerate(steps):
        if step[0] == "wait":
            now += int(step[1])  # type: ignore[call-overload]
        elif step[0] == "new-session":
            visitor.sessions += 1
        elif step[0] == "dismiss" and shows:
            record_popup(visitor, RULE, "popup_dismissed", now)
            popupcaps.record_close(visitor, now)
            dismissals.append((visitor.sessions, now, n))
        elif step[0] == "ask":
            allowed = (
                not popupcaps.closed_this_session(visitor)
                and popupcaps.shop_allows(limits, visitor, now)
                and popupcaps.rule_allows(caps, visitor, RULE, now)
            )
            if allowed:
                popupcaps.record_show(visitor, RULE, now)
                shows.append((visitor.sessions, now, n))
        this_session = [t for s, t, _ in shows if s == visitor.sessions]
        today = [t for _, t, _ in shows if t // 86400 == now // 86400]
        if caps.per_session is not None:
            assert len(this_session) <= caps.per_session
        if caps.per_day is not None:
            assert len(today) <= caps.per_day
        if caps.per_visitor is not None:
            assert len(shows) <= caps.per_visitor
        if limits.per_session:
            assert len(this_session) <= limits.per_session
        if limits.per_day:
            assert len(today) <= limits.per_day
        # no show after a dismissal in the same session, nor within after_dismiss_days
        for session, at, when in dismissals:
            later = [(s, t) for s, t, m in shows if m > when]
            assert not any(s == session for s, _ in later)
            if caps.after_dismiss_days is not None:
                window = caps.after_dismiss_days * 86400
                assert not any(t < at + window for _, t in later)


def test_a_show_counts_once_in_the_rule_and_once_overall() -> None:
    visitor = Visitor(id="v", seen=START)
    popupcaps.record_show(visitor, RULE, START)
    assert visitor.popups[RULE][:5] == [1, 1, 1, START // 86400, 1]
    assert visitor.popups[popupcaps.ANY][:5] == [1, 1, 1, START // 86400, 1]


def test_closing_a_popup_left_open_into_a_new_session_quiets_that_session() -> None:
    visitor = Visitor(id="v", seen=START)
    popupcaps.record_show(visitor, RULE, START)
    visitor.sessions += 1
    popupcaps.record_close(visitor, START + 3600)
    assert popupcaps.closed_this_session(visitor)
    assert popupcaps.shop_allows(PopupLimits(per_session=1), visitor, START + 3600)
    visitor.sessions += 1
    assert not popupcaps.closed_this_session(visitor)
