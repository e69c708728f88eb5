"""Scheduled drops: when the next one opens (for teaser pages) and the check that a teaser names one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopwindow.rules.errors import RuleError
from shopwindow.rules.rules import Rule, RuleSet

TEASER_FIELD = "teaser"


@dataclass(frozen=True, slots=True)
class NextDrop:
    """The moment a drop next opens, in the drop's own time zone."""

    opens: datetime
    live_now: bool  # the drop is on right now, only not for this visitor

    @property
    def iso(self) -> str:
        return self.opens.isoformat()

    @property
    def text(self) -> str:
        """'Saturday 17 January 2026, 00:00 CET' (English, as the demo shop's pages are)."""
        zone = self.opens.tzname() or ""
        return f"{self.opens:%A} {self.opens.day} {self.opens:%B %Y, %H:%M} {zone}".rstrip()


def next_drop(rule: Rule | None, now: datetime) -> NextDrop | None:
    """When the scheduled `rule` next opens after `now`; None when it never will again."""
    if rule is None or rule.schedule is None:
        return None
    schedule = rule.schedule
    opens = schedule.next_start(now)
    if opens is None:
        return None
    return NextDrop(opens.astimezone(schedule.timezone), schedule.active(now))


def check_teasers(rules: RuleSet) -> list[RuleError]:
    """A teaser must name a rule that has a schedule: its next start is the date it shows."""
    errors = []
    for rule in rules.all_rules():
        target = rule.then.get(TEASER_FIELD)
        if target is None:
            continue
        named = rules.rule(str(target))
        if named is None:
            problem = f"teaser names no rule {target!r}"
        elif named.schedule is None:
            problem = f"teaser names {target!r}, which has no schedule"
        else:
            continue
        errors.append(RuleError(rule.file, rule.line, rule.column, problem))
    return errors
