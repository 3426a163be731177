"""Fees Douyin keeps from each order, computed once when the order is paid.

Technical service fee (技术服务费) by product category: the first matching row of `TECH_FEE_RATES`
wins, matched on the Douyin category id prefix (top-level category: 1 美食, 2 丽人, 3 休闲娱乐 in
Douyin's local-life tree) or on the product kind (courier goods); otherwise `DEFAULT_TECH_FEE_RATE`.
Payment channel fee (支付通道费): 0.6 % of what the customer paid, on every order.
New-merchant offer (新商家技术服务费优惠): on non-ad orders whose order date (Asia/Shanghai) falls
from day t+2 to day t+31 after the join day t, the technical service fee is 1 % instead.
Each fee is `money.rate_of` (half up at the fen) of the paid amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from portal import clock, money

# (category id prefix or None, product kind or None, rate, label shown to the merchant)
TECH_FEE_RATES: tuple[tuple[str | None, str | None, str, str], ...] = (
    (None, "goods", "0.05", "实物商品（快递配送）"),
    ("1", None, "0.025", "美食"),
    ("2", None, "0.04", "丽人"),
    ("3", None, "0.03", "休闲娱乐"),
)
DEFAULT_TECH_FEE_RATE = ("0.03", "其他类目")
CHANNEL_FEE_RATE = "0.006"
PROMO_RATE = "0.01"
PROMO_FIRST_DAY = 2  # t+2
PROMO_LAST_DAY = 31  # t+31

# Fee models the merchant chooses between on the ledger settings page. "platform" is the schedule
# above. "groupbuy" is the 团购 model of the Douyin group-buy article: no commission (技术服务费 0),
# only the 0.6 % channel fee, paid out T+1 after redemption (核销 D+1).
PLATFORM_MODEL = "platform"
GROUPBUY_MODEL = "groupbuy"
FEE_MODELS = (PLATFORM_MODEL, GROUPBUY_MODEL)
GROUPBUY_RATE = ("0", "团购（0 佣金）")
GROUPBUY_SETTLEMENT_DAYS = 1


@dataclass(frozen=True)
class FeeQuote:
    category: str
    tech_fee_rate: str
    promo_applied: bool
    tech_fee_fen: int
    channel_fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.tech_fee_fen + self.channel_fee_fen


def category_rate(category_id: str | None, product_kind: str | None) -> tuple[str, str]:
    """(rate, label) of the technical service fee for a product."""
    for prefix, kind, rate, label in TECH_FEE_RATES:
        if kind is not None and kind == product_kind:
            return rate, label
        if prefix is not None and category_id and str(category_id).startswith(prefix):
            return rate, label
    return DEFAULT_TECH_FEE_RATE


def promo_applies(*, joined_at: datetime, order_day: date, source: str) -> bool:
    """The new-merchant offer: non-ad orders dated t+2 … t+31 (Shanghai days) after joining."""
    if source == "ad":
        return False
    offset = (order_day - clock.to_local(joined_at).date()).days
    return PROMO_FIRST_DAY <= offset <= PROMO_LAST_DAY


def quote(*, paid_fen: int, source: str, category_id: str | None, product_kind: str | None, joined_at: datetime, paid_at: datetime,
          model: str = PLATFORM_MODEL) -> FeeQuote:
    """The fees of one order under `model`: the technical service fee (none under the 团购
    model, where the new-merchant offer therefore never applies) and the channel fee."""
    rate, label = GROUPBUY_RATE if model == GROUPBUY_MODEL else category_rate(category_id, product_kind)
    promo = model != GROUPBUY_MODEL and promo_applies(joined_at=joined_at, order_day=clock.to_local(paid_at).date(), source=source)
    if promo and Decimal(PROMO_RATE) < Decimal(rate):
        rate = PROMO_RATE
    else:
        promo = False
    return FeeQuote(
        category=label,
        tech_fee_rate=rate,
        promo_applied=promo,
        tech_fee_fen=money.rate_of(paid_fen, rate),
        channel_fee_fen=money.rate_of(paid_fen, CHANNEL_FEE_RATE),
    )


def percent(rate: str) -> str:
    """"0.025" -> "2.5%"."""
    value = (Decimal(rate) * 100).normalize()
    return f"{value:f}%"


@dataclass(frozen=True)
class ScheduleRow:
    label: str
    rate: str  # a decimal, "0.025"


def schedule(model: str) -> list[ScheduleRow]:
    """The technical service fee rows of a fee model, as the settings page lists them."""
    if model == GROUPBUY_MODEL:
        return [ScheduleRow(GROUPBUY_RATE[1], GROUPBUY_RATE[0])]
    return [ScheduleRow(label, rate) for _prefix, _kind, rate, label in TECH_FEE_RATES] + [ScheduleRow(DEFAULT_TECH_FEE_RATE[1], DEFAULT_TECH_FEE_RATE[0])]
