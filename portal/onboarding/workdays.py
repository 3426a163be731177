"""Working days on the Chinese holiday calendar (法定节假日 and 调休 make-up days)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar

from portal import clock

REVIEW_MIN_WORKING_DAYS = 1
REVIEW_MAX_WORKING_DAYS = 3


def is_working_day(day: date) -> bool:
    """True on a Chinese working day, including a weekend 调休 day.

    For a year the `chinese_calendar` data does not cover yet, Monday to Friday is assumed.
    """
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (`start` itself never counts)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def expected_decision(submitted_at: datetime) -> tuple[date, date]:
    """The window in which Douyin usually decides a review: 1 to 3 working days after submission
    (counted in Asia/Shanghai)."""
    day = clock.to_local(submitted_at).date()
    return add_working_days(day, REVIEW_MIN_WORKING_DAYS), add_working_days(day, REVIEW_MAX_WORKING_DAYS)
