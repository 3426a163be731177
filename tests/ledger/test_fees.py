"""Fee arithmetic at the fen, including the new-merchant offer's boundaries t+1, t+2, t+31, t+32."""

from datetime import datetime, timedelta

import pytest

from portal import clock as portal_clock
from portal.ledger import fees, service

JOINED = datetime(2026, 5, 6, 3, 0, tzinfo=portal_clock.SHANGHAI)  # t = 2026-05-06 (Shanghai)


def at_day(offset, hour=12):
    return datetime(2026, 5, 6, hour, 0, tzinfo=portal_clock.SHANGHAI) + timedelta(days=offset)


@pytest.mark.parametrize(("offset", "promo"), [(1, False), (2, True), (31, True), (32, False)])
def test_promo_boundaries(offset, promo):
    quote = fees.quote(paid_fen=9900, source="normal", category_id="1001000", product_kind="groupon", joined_at=JOINED, paid_at=at_day(offset))
    assert quote.promo_applied is promo
    assert quote.tech_fee_fen == (99 if promo else 248)  # 1 % of 99.00, or 2.5 % = 247.5 -> 248 (half up)
    assert quote.channel_fee_fen == 59  # 0.6 % of 99.00 = 59.4 -> 59


def test_promo_day_is_the_shanghai_date_not_utc():
    # 2026-05-08 00:30 Shanghai is still 05-07 in UTC: t+2 in Shanghai, so the offer applies.
    early = datetime(2026, 5, 8, 0, 30, tzinfo=portal_clock.SHANGHAI)
    assert fees.quote(paid_fen=100, source="normal", category_id=None, product_kind=None, joined_at=JOINED, paid_at=early).promo_applied
    late = datetime(2026, 6, 6, 23, 59, tzinfo=portal_clock.SHANGHAI)  # t+31 23:59
    assert fees.quote(paid_fen=100, source="normal", category_id=None, product_kind=None, joined_at=JOINED, paid_at=late).promo_applied
    after = late + timedelta(minutes=1)  # t+32 00:00
    assert not fees.quote(paid_fen=100, source="normal", category_id=None, product_kind=None, joined_at=JOINED, paid_at=after).promo_applied


def test_ad_orders_never_get_the_offer():
    quote = fees.quote(paid_fen=9900, source="ad", category_id="2001000", product_kind="groupon", joined_at=JOINED, paid_at=at_day(10))
    assert not quote.promo_applied and quote.tech_fee_rate == "0.04" and quote.tech_fee_fen == 396


@pytest.mark.parametrize(("paid", "rate", "fee"), [(1, "0.006", 0), (84, "0.006", 1), (83, "0.006", 0), (250, "0.006", 2), (20, "0.025", 1), (19, "0.025", 0)])
def test_half_up_at_the_fen(paid, rate, fee):
    assert fees.money.rate_of(paid, rate) == fee


def test_category_table_and_default():
    assert fees.category_rate("1002000", "groupon") == ("0.025", "美食")
    assert fees.category_rate("3001000", "voucher") == ("0.03", "休闲娱乐")
    assert fees.category_rate(None, "goods")[0] == "0.05"
    assert fees.category_rate("9000000", "groupon") == fees.DEFAULT_TECH_FEE_RATE


def test_fees_fixed_once_per_order_and_add_up(clock, accounts, orders, db):
    org = accounts.org("新店", stores=1)
    product = orders.product(org, category_id="2001000")
    clock.advance(days=2)
    order = orders.order(org, paid_fen=12345, product=product)
    lo = service.find_ledger_order(order.id)
    assert lo.promo_applied and lo.tech_fee_fen == 123 and lo.channel_fee_fen == 74
    assert lo.net_fen + lo.tech_fee_fen + lo.channel_fee_fen == 12345
    clock.advance(days=40)
    service.record_payment(order, now=portal_clock.now())
    assert service.find_ledger_order(order.id).tech_fee_fen == 123
