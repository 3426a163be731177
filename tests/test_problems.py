"""Douyin's refusals read in plain words, with the code and log id kept for support."""

from bs4 import BeautifulSoup

from portal import clock as portal_clock
from portal import problems
from portal.douyin import DouyinError
from portal.ledger import service


def test_a_raw_douyin_error_becomes_a_sentence_and_a_details_line():
    problem = problems.explain("[2100011] 可提现余额不足 log_id=20261207abc")
    assert "[" not in problem.summary and "log_id" not in problem.summary
    assert problem.summary.startswith("抖音账户的可提现余额不够（可提现余额不足）。请按")
    assert problem.details == "错误码 2100011 · log_id 20261207abc"


def test_an_outbox_error_and_a_refused_token_say_what_to_do():
    problem = problems.explain("2190002: [2190002] access_token 无效 (sub 40001: bad token) log_id=L1")
    assert "AppSecret" in problem.summary and "2190002:" not in problem.summary
    assert problem.details == "错误码 2190002 · 子码 40001 · log_id L1"


def test_a_timeout_says_the_system_retries():
    problem = problems.explain("[13000] 系统错误 log_id=L2")
    assert "自动重试" in problem.summary and problem.details == "错误码 13000 · log_id L2"


def test_our_own_sentence_is_left_as_it_is():
    text = "抖音提现失败：银行卡信息有误。款项已退回可提现余额，核对收款账户后可重新提现。"
    assert problems.explain(text) == (text, "")


def test_a_refused_withdrawal_keeps_the_code_apart(connected, orders, clock, db, client, owner):
    order = orders.order(connected.org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    withdrawal = service.request_withdrawal(connected.org.id, 5000, actor=None, now=portal_clock.now())
    error = DouyinError(2100011, "可提现余额不足", "LOG77")
    service.finish_withdrawal(withdrawal, success=False, reason=service.withdrawal_refused_reason(error), now=portal_clock.now())
    db.session.flush()
    client.login_as(owner)
    page = BeautifulSoup(client.get(f"/ledger/withdrawals/{withdrawal.id}").get_data(as_text=True), "html.parser")
    box = page.select_one("#ledger-withdrawal-failure")
    details = box.select_one(".problem-details").get_text()
    assert "错误码 2100011" in details and "log_id LOG77" in details
    said = box.get_text().replace(details, "")
    assert "款项已退回可提现余额" in said and "[2100011]" not in said and "log_id" not in said
