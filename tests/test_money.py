from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.money import MoneyError, fen_to_yuan_text, format_fen, parse_yuan, rate_of


@pytest.mark.parametrize(
    "text, fen",
    [("99", 9900), ("99.9", 9990), ("99.00", 9900), ("0.01", 1), ("¥12.34", 1234), ("1,234.50", 123450), (" 7 ", 700)],
)
def test_parse_yuan_accepts_up_to_two_decimals(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "   ", "abc", "1.234", "-5", "1e3", "0x10", "12.", ".5", "99.999", None])
def test_parse_yuan_rejects_anything_else(text):
    with pytest.raises(MoneyError):
        parse_yuan(text)


def test_parse_yuan_rejects_zero_unless_allowed():
    with pytest.raises(MoneyError):
        parse_yuan("0")
    assert parse_yuan("0.00", allow_zero=True) == 0


def test_format_fen():
    assert format_fen(1234) == "¥12.34"
    assert format_fen(5) == "¥0.05"
    assert format_fen(-9900) == "-¥99.00"
    assert format_fen(123456789) == "¥1,234,567.89"
    assert format_fen(100, sign=True) == "+¥1.00"
    with pytest.raises(TypeError):
        format_fen(1.5)


@given(st.integers(min_value=1, max_value=10**10))
def test_formatting_and_parsing_round_trip(fen):
    assert parse_yuan(fen_to_yuan_text(fen)) == fen
    assert parse_yuan(format_fen(fen)) == fen


def test_rate_of_rounds_half_up_at_the_fen():
    assert rate_of(9900, "0.006") == 59  # 59.4
    assert rate_of(250, "0.006") == 2  # 1.5 -> 2
    assert rate_of(9900, Decimal("0.01")) == 99
    assert rate_of(0, "0.006") == 0
