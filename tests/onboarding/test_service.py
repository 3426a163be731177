"""Every step's rules, with Douyin mocked at the HTTP boundary (contract envelopes)."""

import json

import pytest
import responses
from sqlalchemy import select

from portal import vault
from portal.accounts.models import Edition, Role
from portal.audit import AuditEntry
from portal.notifications import Notification
from portal.onboarding import service
from tests.fixtures.onboarding import BASE

APP_INFO = "/api/apps/v1/app/info/"
ACCOUNT = "/goodlife/v1/account/get/"
POI = "/goodlife/v1/shop/poi/query/"
MERCHANT_STATUS = "/api/apps/ecpay/v3/saas/query_merchant_status/"
PREVIEW = "/api/apps/v1/package/preview_check/"
SUBMIT = "/api/apps/v1/package/audit/submit/"
QUERY = "/api/apps/v1/package/audit/query/"


@pytest.fixture(autouse=True)
def _request(app):
    """Services are called from views (a request: the user's language) or jobs (force_locale)."""
    with app.test_request_context():
        yield


@pytest.fixture
def who(owner, clock):
    return {"actor": owner, "now": clock.now()}


def codes(db, org):
    return [e.code for e in db.session.scalars(select(AuditEntry).where(AuditEntry.organization_id == org.id).order_by(AuditEntry.id))]


# --- app center ----------------------------------------------------------------------------------


def test_basic_edition_cannot_switch_the_app_on(accounts, owner, clock):
    basic = accounts.org("基础版商户", edition=Edition.BASIC)
    with pytest.raises(service.OnboardingError, match="高级版"):
        service.enable_app(basic, actor=owner, now=clock.now())
    assert service.connection.find_app(basic.id) is None


def test_switching_off_keeps_everything_and_on_again_resumes(db, org, onboarding, who):
    app = onboarding.app(org, upto=3)
    secret = app.app_secret_enc
    service.disable_app(org, **who)
    assert service.progress(org)[0].status == "blocked"
    service.enable_app(org, **who)
    assert app.app_secret_enc == secret and app.payment_status == "APPROVED"
    assert [s.status for s in service.progress(org)][:2] == ["done", "done"]
    assert codes(db, org)[-2:] == ["onboarding.app.disabled", "onboarding.app.enabled"]


# --- step 1 ------------------------------------------------------------------------------------------


def test_unknown_mini_program_is_refused_on_its_field(org, onboarding, douyin, who):
    app = onboarding.app(org)
    douyin.goodlife("GET", APP_INFO, error_code=2100005, description="小程序不存在")
    with pytest.raises(service.OnboardingError) as error:
        service.authorize_miniapp(app, "tt0000000000000000", **who)
    assert error.value.field == "app_id" and "小程序不存在" in str(error.value)
    assert app.app_id is None


def test_authorizing_another_mini_program_drops_what_belonged_to_the_old_one(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    douyin.goodlife("GET", APP_INFO, {"appid": "tt1111111111111111", "name": "新小程序", "status": "DEVELOPING"})
    service.authorize_miniapp(app, "tt1111111111111111", **who)
    assert (app.app_id, app.app_name) == ("tt1111111111111111", "新小程序")
    assert app.app_secret_enc is None and app.payment_status is None and app.trade_connected_at is None
    assert app.laike_account_name is None and app.private_key_enc is not None


def test_account_without_appsecret_is_kept_pending_and_checked_when_the_secret_arrives(org, onboarding, douyin, who):
    app = onboarding.app(org)
    app.app_id, app.app_name = "tt" + "a1" * 8, "小程序"
    assert service.bind_laike_account(app, "7000000000000000001", **who) is False
    assert app.laike_account_id == "7000000000000000001" and app.laike_account_name is None
    douyin.token()
    douyin.goodlife("GET", ACCOUNT, {"account_id": "7000000000000000001", "account_name": "示例来客"})
    service.save_app_secret(app, "the-right-secret", **who)
    assert app.laike_account_name == "示例来客"
    assert douyin.calls(ACCOUNT)[0].request.headers["access-token"].startswith("clt.")


def test_unknown_or_unbound_account_saves_nothing(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=3)
    old = app.laike_account_id
    douyin.token()
    douyin.goodlife("GET", ACCOUNT, error_code=2100004, description="账户不存在")
    with pytest.raises(service.OnboardingError, match="账户不存在") as error:
        service.bind_laike_account(app, "7999", **who)
    assert error.value.field == "laike_account_id" and app.laike_account_id == old
    douyin.mock.replace(responses.GET, "http://douyin.test" + ACCOUNT, json={
        "data": {"error_code": 10004, "description": "无权限"}, "extra": {"error_code": 10004, "description": "无权限", "logid": "x"}})
    with pytest.raises(service.OnboardingError, match="绑定开发者账号"):
        service.bind_laike_account(app, "7999", **who)


# --- step 2 ------------------------------------------------------------------------------------------


def test_wrong_appsecret_is_refused_and_not_stored(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=2)
    app.app_secret_enc = app.app_secret_verified_at = None
    douyin.token(error_code=10013)
    with pytest.raises(service.OnboardingError, match="AppSecret 不正确") as error:
        service.save_app_secret(app, "wrong", **who)
    assert error.value.field == "app_secret" and app.app_secret_enc is None


def test_right_appsecret_is_verified_live_and_stored_encrypted(db, org, onboarding, douyin, who):
    app = onboarding.app(org, upto=2)
    app.app_secret_enc = app.app_secret_verified_at = None
    douyin.token()
    service.save_app_secret(app, "  s3cret-value  ", **who)
    sent = json.loads(douyin.calls("/oauth/client_token/")[0].request.body)
    assert sent == {"client_key": app.app_id, "client_secret": "s3cret-value", "grant_type": "client_credential"}
    assert "s3cret-value" not in app.app_secret_enc and vault.decrypt(app.app_secret_enc) == "s3cret-value"
    assert app.app_secret_verified_at == who["now"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "onboarding.secret.verified")).one()
    assert "s3cret" not in json.dumps(entry.payload)


def _merchant_status(douyin, **maps):
    douyin.mock.add(responses.POST, BASE + MERCHANT_STATUS, json={"err_no": 0, "err_msg": "success", "log_id": "l", "data": maps})


def test_payment_status_is_read_from_douyin(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=2)
    app.app_secret_enc, app.app_secret_verified_at = vault.encrypt("s"), who["now"]
    douyin.token()
    _merchant_status(douyin, merchant_status_info={"hz": {"status": "FAIL", "merchant_id": "M6982", "reject_reason": "营业执照不清晰"}})
    assert service.refresh_payment_status(app, " M69824283230789983130 ", **who) == "REJECTED"
    assert json.loads(douyin.mock.calls[-1].request.body) == {"merchant_id": "M69824283230789983130", "app_id": app.app_id}
    assert app.payment_reason == "营业执照不清晰" and app.payment_merchant_uid == "M69824283230789983130"
    assert "营业执照不清晰" in service.progress(org)[1].reason


def test_payment_status_takes_the_approved_channel_as_the_one_holding_the_money(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=2)
    app.app_secret_enc, app.app_secret_verified_at = vault.encrypt("s"), who["now"]
    douyin.token()
    _merchant_status(douyin, merchant_status_info={"wx": {"status": "PROCESSING"}, "hz": {"status": "SUCCESS", "merchant_id": "7123"}},
                     pay_status_info={})
    assert service.refresh_payment_status(app, "71234567", **who) == "APPROVED"
    assert app.payment_channel == "hz" and app.payment_reason is None


def test_payment_status_without_any_channel_is_not_started_and_an_unknown_word_is_refused(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=2)
    app.app_secret_enc, app.app_secret_verified_at = vault.encrypt("s"), who["now"]
    douyin.token()
    _merchant_status(douyin)
    assert service.refresh_payment_status(app, "71234567", **who) == "NOT_STARTED" and app.payment_channel is None
    _merchant_status(douyin, merchant_status_info={"hz": {"status": "FROZEN"}})
    with pytest.raises(service.OnboardingError, match="FROZEN"):
        service.refresh_payment_status(app, "71234567", **who)


def test_payment_settings_need_the_merchant_uid_douyin_reported(org, onboarding, who):
    app = onboarding.app(org, upto=3)
    app.payment_salt_enc = app.payment_token_enc = app.merchant_uid = None
    with pytest.raises(service.OnboardingError, match="SALT") as error:
        service.save_payment_settings(app, salt="", token="t", merchant_uid=app.payment_merchant_uid, **who)
    assert error.value.field == "salt"
    with pytest.raises(service.OnboardingError, match="不一致") as error:
        service.save_payment_settings(app, salt="s", token="t", merchant_uid="123456789", **who)
    assert error.value.field == "merchant_uid" and app.payment_salt_enc is None
    service.save_payment_settings(app, salt="salt-1", token="token-1", merchant_uid=app.payment_merchant_uid, **who)
    assert vault.decrypt(app.payment_salt_enc) == "salt-1" and vault.decrypt(app.payment_token_enc) == "token-1"
    # Blank keeps what is stored.
    service.save_payment_settings(app, salt="", token="", merchant_uid=app.payment_merchant_uid, **who)
    assert vault.decrypt(app.payment_salt_enc) == "salt-1"
    assert service.progress(org)[1].status == "done"


# --- step 3 ------------------------------------------------------------------------------------------


def poi_entry(account_id, poi_id, name="国贸店"):
    """A shop/poi/query entry in the reference shape (tests/contracts/fixtures/shop_poi_query.json)."""
    return {"poi": {"poi_id": poi_id, "poi_name": name, "address": "北京", "latitude": 39.9, "longitude": 116.4},
            "account": {"parent_account": {"account_id": account_id, "account_name": "", "account_type": "Trademark"}}}


def poi(douyin, account_id, poi_id, name="国贸店"):
    douyin.goodlife("GET", POI, {"pois": [poi_entry(account_id, poi_id, name)], "total": 1})


def test_store_is_authorized_when_the_poi_query_confirms_it(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=3)
    douyin.token()
    poi(douyin, "7001", "6601000000000000001")
    store = org.stores[0]
    service.authorize_store(app, store, account_id="7001", poi_id="6601000000000000001", **who)
    assert (store.douyin_account_id, store.douyin_poi_id, store.douyin_poi_name) == ("7001", "6601000000000000001", "国贸店")
    query = douyin.calls(POI)[0].request.url
    assert "poi_id=" not in query and "account_id=7001" in query and "page=1" in query


def test_store_is_found_on_a_later_page_of_the_account_stores(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=3)
    douyin.token()
    first = [poi_entry("7001", f"66010000000000{n:05d}", f"店{n}") for n in range(50)]
    douyin.goodlife("GET", POI, {"pois": first, "total": 51})
    douyin.goodlife("GET", POI, {"pois": [poi_entry("7001", "6601000000000099999", "望京店")], "total": 51})
    service.authorize_store(app, org.stores[0], account_id="7001", poi_id="6601000000000099999", **who)
    assert org.stores[0].douyin_poi_name == "望京店"
    assert ["page=2" in c.request.url for c in douyin.calls(POI)] == [False, True]


def test_store_authorization_rules(org, accounts, onboarding, douyin, who):
    app = onboarding.app(org, upto=3)
    douyin.token()
    douyin.goodlife("GET", POI, {"pois": [], "total": 0})
    with pytest.raises(service.OnboardingError, match="未找到该门店") as error:
        service.authorize_store(app, org.stores[0], account_id="7001", poi_id="123", **who)
    assert error.value.field == "douyin_poi_id" and org.stores[0].douyin_poi_id is None
    douyin.mock.replace(responses.GET, "http://douyin.test" + POI, json={"data": {"pois": [poi_entry("7002", "123")], "total": 1, "error_code": 0}, "extra": {"error_code": 0}})
    with pytest.raises(service.OnboardingError, match="不属于此抖音商家ID"):
        service.authorize_store(app, org.stores[0], account_id="7001", poi_id="123", **who)
    org.stores[1].douyin_poi_id = "555"
    with pytest.raises(service.OnboardingError, match="已授权给「"):
        service.authorize_store(app, org.stores[0], account_id="7001", poi_id="555", **who)
    other = accounts.org("别家")
    other.stores[0].douyin_poi_id = "777"
    with pytest.raises(service.OnboardingError, match="其他商户"):
        service.authorize_store(app, org.stores[0], account_id="7001", poi_id="777", **who)


def test_shelf_block_questionnaire_needs_every_line(org, onboarding, who):
    app = onboarding.app(org, upto=3)
    with pytest.raises(service.OnboardingError) as error:
        service.confirm_shelf_block(app, {"submitted": True, "same_pois": True}, **who)
    assert error.value.field == "understood" and app.shelf_block_confirmed_at is None
    service.confirm_shelf_block(app, {"submitted": True, "same_pois": True, "understood": True}, **who)
    assert app.shelf_block_confirmed_at == who["now"]


def test_a_blocked_step_refuses_its_actions_with_the_reason(org, onboarding, who):
    app = onboarding.app(org, upto=2)  # payment not done yet
    with pytest.raises(service.StepBlocked, match="担保支付"):
        service.generate_app_keys(app, **who)
    assert app.private_key_enc is None


# --- step 5 ------------------------------------------------------------------------------------------


def test_preview_problems_stop_the_submission(db, org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    douyin.token()
    douyin.goodlife("POST", PREVIEW, {"ok": False, "problems": ["未配置交易回调地址"]})
    with pytest.raises(service.OnboardingError, match="未配置交易回调地址"):
        service.submit_for_review(app, version="1.0.0", description="", **who)
    assert service.latest_review(org.id) is None
    assert not douyin.calls(SUBMIT)


def test_submission_records_the_review_and_a_second_one_waits(db, org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    douyin.token()
    douyin.goodlife("POST", PREVIEW, {"ok": True, "problems": []})
    douyin.goodlife("POST", SUBMIT, {"audit_id": "7300000000000000001"})
    review = service.submit_for_review(app, version="1.0.0", description="首个版本", **who)
    assert (review.audit_id, review.status, review.version) == ("7300000000000000001", "reviewing", "1.0.0")
    assert json.loads(douyin.calls(SUBMIT)[0].request.body) == {"version": "1.0.0", "desc": "首个版本"}
    with pytest.raises(service.OnboardingError, match="审核中"):
        service.submit_for_review(app, version="1.0.1", description="", **who)
    assert len(douyin.calls(SUBMIT)) == 1


@pytest.mark.parametrize("status", [None, 500])
def test_douyin_down_while_submitting_saves_nothing(org, onboarding, douyin, who, status):
    app = onboarding.app(org, upto=5)
    douyin.token()
    douyin.goodlife("POST", PREVIEW, {"ok": True, "problems": []})
    douyin.down("POST", SUBMIT, status=status)
    with pytest.raises(service.DouyinDown, match="重试"):
        service.submit_for_review(app, version="1.0.0", description="", **who)
    assert service.latest_review(org.id) is None
    assert len(douyin.calls(SUBMIT)) == 1  # never retried: Douyin has no idempotency key for it


def test_approval_is_recorded_once_and_notifies_the_merchant(db, org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org)
    douyin.token()
    douyin.goodlife("GET", QUERY, {"audit_id": review.audit_id, "status": "PASS", "reason": "", "submitted_at": 1, "decided_at": 1795000000})
    service.refresh_review(review, now=clock.now())
    service.refresh_review(review, now=clock.now())
    assert review.status == "approved" and review.decided_at.timestamp() == 1795000000
    notes = db.session.scalars(select(Notification).where(Notification.organization_id == org.id)).all()
    assert [(n.kind, n.title) for n in notes] == [("miniapp_review", "小程序审核已通过")]
    assert notes[0].link == "/onboarding/review"
    assert len(douyin.calls(QUERY)) == 1


def test_rejection_keeps_the_reason_and_allows_resubmission(db, org, onboarding, douyin, clock, owner):
    app = onboarding.app(org, upto=5)
    review = onboarding.review(org)
    douyin.token()
    douyin.goodlife("GET", QUERY, {"audit_id": review.audit_id, "status": "REJECT", "reason": "服务类目与资质不符"})
    service.refresh_review(review, now=clock.now())
    assert (review.status, review.reason) == ("rejected", "服务类目与资质不符")
    note = db.session.scalars(select(Notification).where(Notification.kind == "miniapp_review")).one()
    assert "服务类目与资质不符" in note.body
    douyin.goodlife("POST", PREVIEW, {"ok": True, "problems": []})
    douyin.goodlife("POST", SUBMIT, {"audit_id": "7300000000000000009"})
    again = service.submit_for_review(app, version="1.0.1", description="修改类目", actor=owner, now=clock.now())
    assert again.status == "reviewing" and service.latest_review(org.id).id == again.id


def test_a_review_still_auditing_is_left_running(org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org)
    douyin.token()
    douyin.goodlife("GET", QUERY, {"audit_id": review.audit_id, "status": "AUDITING", "reason": ""})
    service.refresh_review(review, now=clock.now())
    assert review.status == "reviewing" and review.checked_at == clock.now()
    # Throttled: a second look within the interval does not ask Douyin again.
    from datetime import timedelta

    service.refresh_review(review, now=clock.now(), min_interval=timedelta(seconds=3))
    assert len(douyin.calls(QUERY)) == 1


def test_the_periodic_poll_notices_decisions_nobody_is_watching(app, db, org, onboarding, douyin, clock):
    from portal import jobs
    from portal.onboarding.jobs import run_miniapp_review_poll

    onboarding.app(org, upto=5)
    review = onboarding.review(org)
    douyin.token()
    douyin.goodlife("GET", QUERY, {"audit_id": review.audit_id, "status": "PASS", "reason": ""})
    jobs.bind_app(app)
    assert run_miniapp_review_poll() == 1
    db.session.refresh(review)
    assert review.status == "approved"


def test_full_shelf_questionnaire_only_after_approval(org, onboarding, who):
    app = onboarding.app(org, upto=5)
    answers = {"submitted": True, "tested": True, "online": True}
    with pytest.raises(service.StepBlocked):
        service.confirm_full_shelf(app, answers, **who)
    onboarding.review(org, status="approved")
    service.confirm_full_shelf(app, answers, **who)
    assert service.progress(org)[4].status == "done"


def test_the_questionnaire_asks_for_a_test_order_only_when_one_can_exist(org, onboarding, orders, shop, who):
    app = onboarding.app(org, upto=5)
    onboarding.review(org, status="approved")
    assert service.test_order(org.id) == service.TestOrder(False, None)
    service.confirm_full_shelf(app, {"submitted": True, "online": True}, **who)  # nothing to buy: not asked
    assert app.full_shelf_answers["tested"] is False
    shop.product(org)  # approved and online: a test order can now be made, so it is asked
    assert service.test_order(org.id).possible
    with pytest.raises(service.OnboardingError) as refused:
        service.confirm_full_shelf(app, {"submitted": True, "online": True}, **who)
    assert refused.value.field == "tested"
    order = orders.order(org)  # the test order arrived: it answers the line by itself
    assert service.test_order(org.id).order.id == order.id
    service.confirm_full_shelf(app, {"submitted": True, "online": True}, **who)
    assert app.full_shelf_answers["tested"] is True


def test_store_managers_never_reach_these_services_through_the_views(client, manager):
    # The rule lives in the views' guard; the service assumes an HQ actor.
    assert client.login_as(manager).get("/onboarding/prepare").status_code == 403
    assert Role.STORE_MANAGER.store_scoped
