"""Daily reconciliation against Douyin's settle/ledger/query, every page of the day."""

import json
import re

import pytest
import responses

from portal import clock as portal_clock
from portal.douyin import DouyinClient, DouyinCredentials, MemoryTokenCache
from portal.ledger import reconcile

BASE = "https://douyin.test"
LEDGER = re.compile(re.escape(f"{BASE}/goodlife/v1/settle/ledger/query/") + r"(\?.*)?$")
TOKEN = {"data": {"access_token": "clt.t", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}


class _NoLimit:
    def acquire(self, *args, **kwargs) -> None:
        return None


@pytest.fixture
def douyin():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{BASE}/oauth/client_token/", json=TOKEN)
        client = DouyinClient(
            DouyinCredentials(app_id="tt-rec", app_secret="s", account_id="7000000000000000001"),
            base_url=BASE, token_cache=MemoryTokenCache(), rate_limiter=_NoLimit(), sleep=lambda _s: None, max_retries=0,
        )
        yield client, mock


def page(records, cursor, has_more):
    """One settle/ledger/query reply in the reference shape (fixture settle_ledger_query)."""
    return {
        "data": {"error_code": 0, "description": "success", "cursor": cursor, "has_more": has_more,
                 "ledger_records": [{"order_id": order_id, "amount": {"pay": fen, "original": fen, "goods": fen}} for order_id, fen in records]},
        "extra": {"error_code": 0, "description": "success", "sub_error_code": 0, "sub_description": "", "logid": "l", "now": 1},
    }


def bill_date_of(voucher):
    return (voucher.redeemed_at + reconcile.LEDGER_DELAY).astimezone(portal_clock.SHANGHAI).date()


def test_a_day_of_three_pages_is_read_to_the_end_and_balances(clock, org, orders, db, douyin):
    client, mock = douyin
    day_orders = [orders.order(org, paid_fen=fen) for fen in (9900, 5000, 1200, 800, 100)]
    for order in day_orders:
        orders.redeem_all(order)
    booked = [(o.douyin_order_id, o.paid_fen) for o in day_orders]
    mock.add(responses.GET, LEDGER, json=page(booked[:2], "c1", True))
    mock.add(responses.GET, LEDGER, json=page(booked[2:4], "c2", True))
    mock.add(responses.GET, LEDGER, json=page(booked[4:], "c3", False))

    run = reconcile.reconcile(org.id, bill_date_of(day_orders[0].vouchers[0]), client=client, now=portal_clock.now())

    ledger_calls = [c for c in mock.calls if "/settle/ledger/query/" in c.request.url]
    assert len(ledger_calls) == 3
    assert [re.search(r"cursor=([^&]*)", c.request.url).group(1) for c in ledger_calls] == ["0", "c1", "c2"]
    assert run.status == "matched" and run.error == ""
    assert run.douyin_records == 5
    assert run.douyin_total_fen == run.portal_total_fen == 9900 + 5000 + 1200 + 800 + 100


def test_a_cursor_that_does_not_advance_stops_the_run_with_an_error(clock, org, orders, db, douyin):
    client, mock = douyin
    order = orders.order(org, paid_fen=9900)
    orders.redeem_all(order)
    mock.add(responses.GET, LEDGER, json=page([(order.douyin_order_id, 9900)], "c1", True))
    mock.add(responses.GET, LEDGER, json=page([], "c1", True))

    run = reconcile.reconcile(org.id, bill_date_of(order.vouchers[0]), client=client, now=portal_clock.now())

    assert run.status == "error" and "does not advance" in run.error
    assert len([c for c in mock.calls if "/settle/ledger/query/" in c.request.url]) == 2


def test_an_amount_booked_differently_is_listed(clock, org, orders, db, douyin):
    client, mock = douyin
    order = orders.order(org, paid_fen=9900)
    orders.redeem_all(order)
    mock.add(responses.GET, LEDGER, body=json.dumps(page([(order.douyin_order_id, 9000)], "c1", False)), content_type="application/json")

    run = reconcile.reconcile(org.id, bill_date_of(order.vouchers[0]), client=client, now=portal_clock.now())

    assert run.status == "differences"
    assert [(d.problem, d.douyin_fen, d.portal_fen) for d in run.differences] == [("amount_differs", 9000, 9900)]
