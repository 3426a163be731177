"""The wizard's progress is a pure function of the facts: every step's status and reason."""

from dataclasses import replace

import pytest

from portal.onboarding.steps import Facts, Status, derive, next_step, preflight

FRESH = Facts(enabled=True, stores_total=2)
ALL_DONE = Facts(
    enabled=True, app_id="tt0123456789abcdef", app_name="小程序", authorized=True, laike_account_id="7001", laike_account_name="来客",
    licence=True, secret_verified=True, payment_status="APPROVED", payment_settings=True, stores_total=2, stores_bound=1,
    shelf_block_confirmed=True, app_keys=True, platform_key=True, trade_connected=True, ka_confirmed=True,
)


@pytest.fixture(autouse=True)
def _context(app):
    with app.test_request_context():
        yield


def statuses(facts):
    return [s.status for s in derive(facts)]


def test_basic_edition_blocks_every_step_and_says_what_to_do():
    steps = derive(replace(ALL_DONE, edition_ok=False))
    assert {s.status for s in steps} == {Status.BLOCKED}
    assert all("高级版" in s.reason and "升级" in s.reason for s in steps)


def test_switched_off_app_blocks_every_step_and_points_to_the_app_center():
    steps = derive(replace(ALL_DONE, enabled=False))
    assert {s.status for s in steps} == {Status.BLOCKED}
    assert "应用中心" in steps[0].reason


def test_a_fresh_merchant_can_only_start_step_one_and_every_block_is_explained():
    s1, s2, s3, s4, s5 = derive(FRESH)
    assert s1.status is Status.CURRENT and "授权抖音小程序" in s1.reason
    assert s2.status is Status.BLOCKED and "第 1 步" in s2.reason
    assert s3.status is Status.BLOCKED and "AppSecret" in s3.reason
    assert s4.status is Status.BLOCKED and "担保支付" in s4.reason
    assert s5.status is Status.BLOCKED and "接入准备" in s5.reason and "交易系统" in s5.reason


def test_an_account_waiting_for_the_appsecret_says_so_and_step_two_opens():
    facts = replace(FRESH, app_id="tt0123456789abcdef", app_name="小程序", authorized=True, laike_account_id="7001", licence=True)
    s1, s2, *_ = derive(facts)
    assert s1.status is Status.CURRENT
    assert "待校验" in s1.reason and "AppSecret" in s1.reason
    assert s2.status is Status.CURRENT


@pytest.mark.parametrize(
    "status, reason, expected",
    [
        (None, None, "刷新支付进件状态"),
        ("NOT_STARTED", None, "完成进件"),
        ("REVIEWING", None, "审核中"),
        ("REJECTED", "营业执照模糊", "营业执照模糊"),
    ],
)
def test_payment_onboarding_status_is_the_reason_step_two_is_unfinished(status, reason, expected):
    facts = replace(ALL_DONE, payment_status=status, payment_reason=reason)
    step2 = derive(facts)[1]
    assert step2.status is Status.CURRENT
    assert expected in step2.reason


def test_step_three_needs_the_appsecret_and_a_checked_account():
    assert derive(replace(ALL_DONE, secret_verified=False))[2].status is Status.BLOCKED
    step3 = derive(replace(ALL_DONE, laike_account_name=None))[2]
    assert step3.status is Status.BLOCKED and "来客账号" in step3.reason


def test_products_still_in_review_do_not_hold_the_merchant_back():
    facts = replace(ALL_DONE, products_reviewing=3, products_approved=0)
    assert statuses(facts)[:4] == [Status.DONE] * 4
    assert derive(facts)[4].status is Status.CURRENT


def test_trade_system_waits_for_guaranteed_payment_even_when_its_own_facts_are_complete():
    steps = derive(replace(ALL_DONE, payment_status="REJECTED", payment_reason="资料不全"))
    assert steps[3].status is Status.BLOCKED
    assert "担保支付" in steps[3].reason
    assert steps[4].status is Status.BLOCKED


def test_review_states_drive_step_five():
    assert "可以提交" in derive(ALL_DONE)[4].reason
    reviewing = derive(replace(ALL_DONE, review_status="reviewing"))[4]
    assert reviewing.status is Status.CURRENT and "审核中" in reviewing.reason
    rejected = derive(replace(ALL_DONE, review_status="rejected", review_reason="类目不符"))[4]
    assert rejected.status is Status.CURRENT and "类目不符" in rejected.reason and "重新提交" in rejected.reason
    approved = derive(replace(ALL_DONE, review_status="approved"))[4]
    assert approved.status is Status.CURRENT and "验收问卷" in approved.reason
    assert derive(replace(ALL_DONE, review_status="approved", full_shelf_confirmed=True))[4].status is Status.DONE


def test_editing_a_finished_step_reopens_it_and_blocks_what_depends_on_it():
    # Regenerated keys: step 4 is open again (test the connection), step 5 waits.
    steps = derive(replace(ALL_DONE, trade_connected=False, review_status="approved"))
    assert steps[3].status is Status.CURRENT and "接入" in steps[3].reason
    assert steps[4].status is Status.BLOCKED


def test_next_step_is_the_first_open_one_and_preflight_lists_steps_one_to_four():
    facts = replace(ALL_DONE, ka_confirmed=False)
    steps = derive(facts)
    assert next_step(steps).number == 4
    lines = preflight(steps)
    assert {s.number for s, _ in lines} == {1, 2, 3, 4}
    assert [item.key for _, item in lines if not item.done] == ["ka"]
