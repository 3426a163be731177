"""The overview read from the daily figures: attribution through redemption and settled cash,
store scoping, the long-cycle lists and the date range rules."""

from datetime import date, timedelta

import pytest

from portal import clock as portal_clock
from portal.insights import service


def _overview(org, *, store_ids=None, day_from=date(2026, 10, 22), day_to=date(2026, 11, 20)):
    return service.overview(org.id, store_ids=store_ids, stores={s.id: s.name for s in org.stores},
                            day_from=day_from, day_to=day_to, now=portal_clock.now())


def _codes(report):
    return {row.label: row.figures for row in report.by_code}


def test_attribution_per_tracking_code_follows_through_to_redemption_and_settled_cash(clock, org, insight_orders):
    video = insight_orders.order(org, channel="short_video", tracking_code="shortvideo_0309_douyin", paid_fen=9900, total_fen=9900,
                                 paid_at=clock.now() - timedelta(days=6))
    insight_orders.order(org, channel="short_video", tracking_code="shortvideo_0309_douyin", paid_fen=5000, total_fen=5000,
                         paid_at=clock.now() - timedelta(days=6))
    live = insight_orders.order(org, channel="live", tracking_code="live_1111", paid_fen=19900, total_fen=19900,
                                paid_at=clock.now() - timedelta(days=6))
    insight_orders.redeem(video.vouchers[0], at=clock.now() - timedelta(days=5))
    insight_orders.complete(video)
    insight_orders.settle(video, net_fen=9841, fees_fen=59)
    insight_orders.refund(live)

    report = _overview(org)
    codes = _codes(report)
    assert codes["shortvideo_0309_douyin"].orders == 2
    assert codes["shortvideo_0309_douyin"].paid_fen == 14900
    assert codes["shortvideo_0309_douyin"].redemptions == 1
    assert codes["shortvideo_0309_douyin"].settled_net_fen == 9841
    assert codes["shortvideo_0309_douyin"].settled_fees_fen == 59
    assert codes["live_1111"].redemptions == 0 and codes["live_1111"].settled_net_fen == 0
    assert codes["live_1111"].refunds_fen == 19900
    channels = {row.key: row.figures for row in report.by_channel}
    assert list(channels) == ["short_video", "live", "search", "other"]
    assert channels["short_video"].settled_net_fen == 9841
    assert channels["live"].refunds == 1
    assert report.totals.paid_fen == 34800 and report.totals.orders == 3


def test_totals_and_days_cover_only_the_range(clock, org, insight_orders):
    insight_orders.order(org, paid_at=clock.now() - timedelta(days=30), paid_fen=100, total_fen=100)  # 10-21: before
    insight_orders.order(org, paid_at=clock.now() - timedelta(days=29), paid_fen=200, total_fen=300)  # 10-22: first day
    insight_orders.order(org, paid_fen=400, total_fen=400)
    report = _overview(org)
    assert report.totals.paid_fen == 600
    assert report.totals.gmv_fen == 700
    assert len(report.by_day) == 30
    assert report.by_day[0].key == date(2026, 10, 22) and report.by_day[0].figures.paid_fen == 200
    assert report.by_day[-1].figures.paid_fen == 400


def test_store_scope_limits_every_figure(clock, org, insight_orders):
    a, b = org.stores
    insight_orders.order(org, store=a, paid_fen=1000, total_fen=1000, tracking_code="code_a")
    order_b = insight_orders.order(org, store=b, paid_fen=2000, total_fen=2000, tracking_code="code_b",
                                   paid_at=clock.now() - timedelta(days=3))
    insight_orders.redeem(order_b.vouchers[0], store=b)
    report = _overview(org, store_ids={a.id})
    assert report.totals.paid_fen == 1000
    assert report.totals.redemptions == 0
    assert [row.key for row in report.by_store] == [a.id]
    assert set(_codes(report)) == {"code_a"}
    assert report.long_redemptions == []
    assert _overview(org).totals.paid_fen == 3000


def test_long_cycle_unredeemed_vouchers_are_those_paid_more_than_a_day_ago(clock, org, insight_orders):
    old = insight_orders.order(org, paid_at=clock.now() - timedelta(days=4), vouchers=2)
    just_over = insight_orders.order(org, paid_at=clock.now() - timedelta(hours=24, minutes=5))
    insight_orders.order(org, paid_at=clock.now() - timedelta(hours=23, minutes=55))  # not yet a day
    redeemed = insight_orders.order(org, paid_at=clock.now() - timedelta(days=3))
    insight_orders.redeem(redeemed.vouchers[0])
    insight_orders.redeem(old.vouchers[1])

    report = _overview(org)
    assert report.open_voucher_count == 2  # one of `old`, one of `just_over`
    assert [item["order"].id for item in report.open_orders] == [old.id, just_over.id]
    assert report.open_orders[0]["codes"] == [old.vouchers[0].code]
    assert report.open_orders[0]["hours"] == 96


def test_long_cycle_redemptions_are_those_over_1440_minutes(clock, org, insight_orders):
    slow = insight_orders.order(org, paid_at=clock.now() - timedelta(days=2))
    quick = insight_orders.order(org, paid_at=clock.now() - timedelta(hours=30))
    edge = insight_orders.order(org, paid_at=clock.now() - timedelta(days=1))
    insight_orders.redeem(slow.vouchers[0], at=clock.now() - timedelta(hours=1))  # 47 h
    insight_orders.redeem(quick.vouchers[0], at=clock.now() - timedelta(hours=8))  # 22 h
    insight_orders.redeem(edge.vouchers[0])  # exactly 1440 minutes: not over
    report = _overview(org)
    assert [item["fact"].voucher_id for item in report.long_redemptions] == [slow.vouchers[0].id]
    assert report.long_redemptions[0]["code"] == slow.vouchers[0].code
    assert report.totals.long_redemptions == 1
    assert report.totals.redemptions == 3


def test_another_organization_is_never_counted(clock, org, insight_orders, accounts):
    other = accounts.org("别家", stores=1)
    insight_orders.order(other, paid_at=clock.now() - timedelta(days=3))
    report = _overview(org)
    assert report.totals.orders == 0
    assert report.open_voucher_count == 0 and report.open_orders == []


@pytest.mark.parametrize(
    ("day_from", "day_to", "message"),
    [
        (date(2026, 11, 20), date(2026, 11, 19), "结束日期不能早于开始日期"),
        (date(2025, 11, 1), date(2026, 11, 20), "日期范围最长 366 天"),
    ],
)
def test_a_bad_range_is_refused_on_the_end_date(app, db, org, day_from, day_to, message):
    with pytest.raises(service.InsightsError) as error:
        _overview(org, day_from=day_from, day_to=day_to)
    assert error.value.field == "day_to"
    with app.test_request_context():
        assert str(error.value) == message


def test_default_period_is_the_last_30_days_today_included():
    assert service.default_period(date(2026, 11, 20)) == (date(2026, 10, 22), date(2026, 11, 20))


def test_figures_read_the_sums_in_metrics_order():
    from dataclasses import fields

    from portal.insights.models import METRICS
    from portal.insights.service import Figures

    assert tuple(f.name for f in fields(Figures)) == METRICS
    assert Figures.of(("2026-11-01", *range(len(METRICS)))).settled_fees_fen == len(METRICS) - 1


def test_figures_add_every_metric():
    from dataclasses import astuple

    from portal.insights.models import METRICS
    from portal.insights.service import Figures

    figures = Figures(*range(1, len(METRICS) + 1))
    figures.add(Figures(*(10 * n for n in range(1, len(METRICS) + 1))))
    assert astuple(figures) == tuple(11 * n for n in range(1, len(METRICS) + 1))
