"""Pure helpers of the interpreter: branch conditions, business hours, prompt templates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ivr.schema import (
    WEEKDAYS,
    BusinessHoursCondition,
    CrmFlagCondition,
    LanguageCondition,
    VariableCondition,
    VipCondition,
    parse_span,
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")
Condition = (
    VipCondition | LanguageCondition | VariableCondition | CrmFlagCondition | BusinessHoursCondition
)


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown names become empty (the validator warns)."""

    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1))
        return "" if found is None else str(found)

    return _PLACEHOLDER.sub(value, template)


def spaced_digits(value: str) -> str:
    """``"100234"`` -> ``"1 0 0 2 3 4"``: TTS reads numbers digit by digit this way."""
    return " ".join(value)


def is_open(schedule: BusinessHoursCondition, now: datetime) -> bool:
    """Is ``now`` (timezone-aware) inside the weekly hours and not on a holiday?"""
    local = now.astimezone(ZoneInfo(schedule.timezone))
    if local.date() in schedule.holidays:
        return False
    spans = schedule.weekly.get(WEEKDAYS[local.weekday()], [])
    at = local.time().replace(tzinfo=None)
    for span in spans:
        start, end = parse_span(span)
        if start <= at < end:  # "24:00" parses as time.max, so the day's end is inside
            return True
    return False


def evaluate(condition: Condition, variables: Mapping[str, Any], now: datetime) -> bool:
    """Does ``condition`` hold for a call with these ``variables`` at ``now``?"""
    if isinstance(condition, VipCondition):
        return bool(variables.get("vip")) == condition.equals
    if isinstance(condition, LanguageCondition):
        return variables.get("language") == condition.equals
    if isinstance(condition, CrmFlagCondition):
        flag = variables.get(f"crm.flags.{condition.flag}")
        return bool(flag) if condition.equals is None else flag == condition.equals
    if isinstance(condition, BusinessHoursCondition):
        return is_open(condition, now)
    return _compare(condition, variables.get(condition.name))


def _compare(condition: VariableCondition, actual: Any) -> bool:
    op, wanted = condition.op, condition.value
    if op == "set":
        return actual not in (None, "")
    if op == "unset":
        return actual in (None, "")
    if op == "eq":
        return _same(actual, wanted)
    if op == "ne":
        return not _same(actual, wanted)
    if op == "in":
        return isinstance(wanted, list) and any(_same(actual, w) for w in wanted)
    if op == "matches":
        return actual is not None and re.search(str(wanted), str(actual)) is not None
    return _ordered(op, actual, wanted)


def _same(actual: Any, wanted: Any) -> bool:
    # Collected digits are strings and supervisors type numbers: "5" equals 5.
    return actual == wanted or (actual is not None and str(actual) == str(wanted))


def _ordered(op: str, actual: Any, wanted: Any) -> bool:
    try:
        a, w = float(actual), float(wanted)
    except (TypeError, ValueError):
        return False
    return {"lt": a < w, "le": a <= w, "gt": a > w, "ge": a >= w}[op]
