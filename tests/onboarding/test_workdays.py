"""The expected review decision: 1 to 3 working days on the Chinese holiday calendar."""

from datetime import UTC, date, datetime

from portal.onboarding.workdays import add_working_days, expected_decision, is_working_day


def test_a_friday_submission_skips_the_weekend():
    # 2026-11-20 10:00 in Shanghai (a Friday)
    assert expected_decision(datetime(2026, 11, 20, 2, 0, tzinfo=UTC)) == (date(2026, 11, 23), date(2026, 11, 25))


def test_national_day_is_skipped_and_a_make_up_saturday_counts():
    # 2026-10-01..07 are holidays; Saturday 2026-10-10 is a 调休 working day.
    assert not is_working_day(date(2026, 10, 5))
    assert is_working_day(date(2026, 10, 10))
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_the_shanghai_date_counts_not_the_utc_one():
    # 2026-11-20 17:00 UTC is already Saturday the 21st in Shanghai.
    assert expected_decision(datetime(2026, 11, 20, 17, 0, tzinfo=UTC)) == (date(2026, 11, 23), date(2026, 11, 25))


def test_a_year_without_calendar_data_falls_back_to_monday_to_friday():
    assert add_working_days(date(2027, 12, 31), 1) == date(2028, 1, 3)
    assert add_working_days(date(2026, 12, 31), 3) == date(2027, 1, 5)
