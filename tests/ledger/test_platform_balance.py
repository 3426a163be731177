"""The 担保账户 pages ask Douyin for its withdrawable balance at most every 30 s per merchant, once,
briefly, and show the last figure with its age when Douyin does not answer."""

import requests
import responses
from bs4 import BeautifulSoup

from portal import clock as portal_clock
from portal.ledger import platform_balance

BASE = "http://douyin.test"
TOKEN = {"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}
BALANCE_URL = BASE + "/api/apps/ecpay/saas/query_merchant_balance/"


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _balance(fen):
    return {"err_no": 0, "err_msg": "", "log_id": "l", "data": {"account_info": {"online_balance": 0, "withdrawable_balacne": fen, "freeze_balance": 0}}}


def test_page_views_within_30_seconds_ask_douyin_once(client, owner, connected, clock):
    client.login_as(owner)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + "/oauth/client_token/", json=TOKEN)
        asked = mock.post(BALANCE_URL, json=_balance(1234))
        first = html(client.get("/ledger/withdrawals"))
        clock.advance(seconds=20)
        second = html(client.get("/ledger/"))
        assert asked.call_count == 1
        assert "20 秒前读取" in second.select_one("#ledger-platform-balance-age").get_text()
        clock.advance(seconds=11)
        html(client.get("/ledger/withdrawals"))
        assert asked.call_count == 2
    assert first.select_one("#ledger-platform-balance")["data-fen"] == "1234"
    assert first.select_one("#ledger-platform-balance")["data-current"] == "true"


def test_when_douyin_is_down_the_page_shows_the_last_balance_marked_with_its_age(client, owner, connected, clock):
    client.login_as(owner)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + "/oauth/client_token/", json=TOKEN)
        mock.post(BALANCE_URL, json=_balance(5000))
        client.get("/ledger/withdrawals")
    clock.advance(seconds=45)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + "/oauth/client_token/", json=TOKEN)
        down = mock.post(BALANCE_URL, body=requests.Timeout("read timed out"))
        response = client.get("/ledger/withdrawals")
        assert down.call_count == 1, "a page view is never retried"
    assert response.status_code == 200
    shown = html(response).select_one("#ledger-platform-balance")
    assert shown["data-fen"] == "5000" and shown["data-current"] == "false"
    assert "45 秒前读取的余额" in shown.get_text()


def test_with_no_figure_at_all_a_down_douyin_is_said_plainly(client, owner, connected):
    client.login_as(owner)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + "/oauth/client_token/", json=TOKEN)
        mock.post(BALANCE_URL, status=503, json={})
        page = html(client.get("/ledger/withdrawals"))
    assert "暂时无法读取抖音账户余额" in page.select_one("#ledger-platform-balance").get_text()


def test_a_page_call_is_short_and_never_retried(connected, monkeypatch, app):
    made = {}
    from portal.onboarding import connection

    real = connection.client_of

    def spy(app, **options):
        made.update(options)
        return real(app, **options)

    monkeypatch.setattr(connection, "client_of", spy)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + "/oauth/client_token/", json=TOKEN)
        mock.post(BALANCE_URL, json=_balance(10))
        got = platform_balance.withdrawable_for_page(connected.org.id, now=portal_clock.now(), local_fen=0)
    assert got.fen == 10 and got.current
    assert made == {"timeout": platform_balance.PAGE_TIMEOUT, "max_retries": 0}
    assert sum(platform_balance.PAGE_TIMEOUT) <= 5
