"""Money is integer fen everywhere; this module parses yuan input and formats fen for people."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from portal.i18n import lazy_gettext as _l


# ASCII digits only ("٣" is not a price), and thousands separators only where they belong
# ("1,000.50" yes, "1,0.5" no).
_YUAN = re.compile(r"^\s*[¥￥]?\s*([0-9]{1,3}(?:,[0-9]{3}){1,2}|[0-9]{1,9})(?:\.([0-9]{1,2}))?\s*$")

MAX_FEN = 10**11  # ¥1,000,000,000.00: far beyond any single local-life order


class MoneyError(ValueError):
    """Input that is not an amount of money; the message is safe to show."""


def parse_yuan(text: str | None, *, allow_zero: bool = False) -> int:
    """Parse a yuan amount with at most two decimals ("99", "99.9", "¥99.00") into fen.

    Raises MoneyError for empty, negative, malformed or over-precise input. Never uses floats.
    """
    if text is None or not str(text).strip():
        raise MoneyError(_l("请输入金额"))
    match = _YUAN.match(str(text))
    if not match:
        raise MoneyError(_l("金额格式不正确：请填写数字，最多两位小数，例如 99.00"))
    whole, cents = match.group(1).replace(",", ""), (match.group(2) or "").ljust(2, "0")
    fen = int(whole) * 100 + int(cents)
    if fen == 0 and not allow_zero:
        raise MoneyError(_l("金额必须大于 0"))
    if fen > MAX_FEN:
        raise MoneyError(_l("金额过大"))
    return fen


def format_fen(fen: int | None, *, sign: bool = False) -> str:
    """12345 -> "¥123.45"; negative amounts keep their minus sign in front of the currency."""
    if fen is None:
        return "—"
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("money is integer fen")
    prefix = "-" if fen < 0 else ("+" if sign and fen > 0 else "")
    yuan, cents = divmod(abs(fen), 100)
    return f"{prefix}¥{yuan:,}.{cents:02d}"


def fen_to_yuan_text(fen: int) -> str:
    """12345 -> "123.45", for form inputs."""
    yuan, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{yuan}.{cents:02d}"


def rate_of(amount_fen: int, rate: Decimal | str) -> int:
    """`amount_fen` times a rate ("0.006" for 0.6 %), rounded half up to the fen."""
    value = (Decimal(amount_fen) * Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(value)
