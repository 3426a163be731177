"""Every step's rules, with Douyin mocked at the HTTP boundary (contract envelopes)."""

import json
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, update

from portal import clock, vault
from portal.accounts.models import Edition, Role
from portal.audit import AuditEntry
from portal.notifications import Notification
from portal.onboarding import authorization, service
from portal.onboarding.models import DouyinApp
from tests.fixtures.onboarding import BASE

BASIC_INFO = "/api/apps/v2/basic_info/get_info/"
STORES = "/goodlife/v1/shop/poi/query/"
POI = "/goodlife/v1/shop/poi/query/"
MERCHANT_STATUS = "/api/apps/ecpay/v3/saas/query_merchant_status/"
HOSTS = "/api/apps/v1/package_version/get_audit_hosts/"
VERSIONS = "/api/apps/v1/package_version/versions/"
SUBMIT = "/api/apps/v1/package_version/audit/"
RELEASE = "/api/apps/v1/package_version/release/"


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


AUTH_TOKEN = "/api/tpapp/v2/auth/get_auth_token"
COMPONENT_TOKEN = "/openapi/v2/auth/token"


def _component(douyin, app_id="tt1111111111111111", *, err_no=0):
    """A pushed ticket, the component token and Douyin's answer to the code exchange."""
    authorization.store_ticket("ticket-1", now=clock.now())
    douyin.mock.add("GET", BASE + COMPONENT_TOKEN, json={"err_no": 0, "err_msg": "", "component_access_token": "cmpt.1", "expires_in": 7200})
    if err_no:
        douyin.apps("GET", AUTH_TOKEN, err_no=err_no, err_msg="authorization_code 无效")
    else:
        douyin.apps("GET", AUTH_TOKEN, {"authorizer_access_token": "isvact.new", "authorizer_refresh_token": "isvrft.new",
                                        "expires_in": 7200, "refresh_expires_in": 2592000, "authorizer_appid": app_id})


def test_unknown_mini_program_is_refused_and_nothing_is_stored(org, onboarding, douyin, who):
    app = onboarding.app(org)
    _component(douyin, "tt0000000000000000")
    douyin.apps("GET", BASIC_INFO, err_no=2100005, err_msg="小程序不存在")
    with pytest.raises(service.OnboardingError, match="小程序不存在"):
        service.complete_authorization(app, "code-1", **who)
    assert app.app_id is None and app.authorizer_access_token_enc is None


def test_authorization_stores_the_authorizer_tokens_encrypted_and_the_app(db, org, onboarding, douyin, who):
    app = onboarding.app(org)
    _component(douyin)
    douyin.apps("GET", BASIC_INFO, {"app_id": "tt1111111111111111", "app_name": "新小程序", "app_state": 0,
                                    "subject_audit_info": {"subject_name": "北京示例餐饮管理有限公司", "subject_type": 1}})
    service.complete_authorization(app, "code-1", **who)
    assert (app.app_id, app.app_name, app.douyin_subject) == ("tt1111111111111111", "新小程序", "北京示例餐饮管理有限公司")
    assert douyin.calls(BASIC_INFO)[0].request.headers["access-token"] == "isvact.new"  # the authorization just made
    assert "isvact.new" not in app.authorizer_access_token_enc
    assert vault.decrypt(app.authorizer_access_token_enc) == "isvact.new"
    assert vault.decrypt(app.authorizer_refresh_token_enc) == "isvrft.new"
    sent = douyin.calls(AUTH_TOKEN)[0].request
    assert sent.headers["access-token"] == "cmpt.1"
    assert "grant_type=app_to_tp_authorization_code" in sent.url and "authorization_code=code-1" in sent.url
    assert service.progress(org)[0].items[0].done


def test_a_refused_code_saves_nothing_and_says_so(org, onboarding, douyin, who):
    app = onboarding.app(org)
    _component(douyin, err_no=40003)
    with pytest.raises(service.OnboardingError, match="authorization_code 无效"):
        service.complete_authorization(app, "used-code", **who)
    assert app.authorizer_access_token_enc is None and not service.progress(org)[0].items[0].done


def test_without_a_pushed_ticket_the_link_cannot_be_made_yet(org, onboarding, who):
    app = onboarding.app(org)
    with pytest.raises(service.DouyinDown, match="component_ticket"):
        service.authorization_link(app, redirect_uri="https://portal.test/back")


def test_authorizing_another_mini_program_drops_what_belonged_to_the_old_one(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    _component(douyin)
    douyin.apps("GET", BASIC_INFO, {"app_id": "tt1111111111111111", "app_name": "新小程序", "app_state": 0})
    service.complete_authorization(app, "code-1", **who)
    assert (app.app_id, app.app_name) == ("tt1111111111111111", "新小程序")
    assert app.app_secret_enc is None and app.payment_status is None and app.trade_connected_at is None
    assert app.laike_account_name is None and app.private_key_enc is not None


def test_an_expiring_authorizer_token_is_refreshed_before_the_call(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    app.authorizer_expires_at = clock.now() + timedelta(minutes=2)
    authorization.store_ticket("ticket-1", now=clock.now())
    douyin.mock.add("GET", BASE + COMPONENT_TOKEN, json={"err_no": 0, "err_msg": "", "component_access_token": "cmpt.1", "expires_in": 7200})
    douyin.apps("GET", AUTH_TOKEN, {"authorizer_access_token": "isvact.fresh", "authorizer_refresh_token": "isvrft.fresh",
                                    "expires_in": 7200, "refresh_expires_in": 2592000, "authorizer_appid": app.app_id})
    _ready(douyin)
    service.preview_check(app)
    assert "grant_type=app_to_tp_refresh_token" in douyin.calls(AUTH_TOKEN)[0].request.url
    assert douyin.calls(VERSIONS)[0].request.headers["access-token"] == "isvact.fresh"
    assert vault.decrypt(app.authorizer_refresh_token_enc) == "isvrft.fresh"


def test_the_unauthorized_push_takes_step_one_back_and_tells_the_merchant(db, org, onboarding):
    app = onboarding.app(org, upto=5)
    event = {"AppId": app.app_id, "TpAppId": authorization.component_credentials().component_appid,
             "EventTime": "2019-01-14 12:45:10", "Event": "UNAUTHORIZED"}
    assert authorization.handle_event(event, now=clock.now()) == "unauthorized"
    assert app.authorizer_access_token_enc is None and app.unauthorized_at is not None
    step = service.progress(org)[0]
    assert not step.items[0].done and "取消授权" in step.reason
    assert service.progress(org)[4].status.value == "blocked"
    assert db.session.scalar(select(Notification).where(Notification.organization_id == org.id, Notification.kind == "system"))
    assert authorization.handle_event(event, now=clock.now()) == "unauthorized"
    assert "onboarding.authorization.revoked" in codes(db, org)


def test_a_pushed_ticket_is_kept_encrypted_and_replaced(db):
    authorization.store_ticket("t1", now=clock.now())
    authorization.handle_event({"Ticket": "t2", "Event": "PUSH", "MsgType": "Ticket"}, now=clock.now())
    assert authorization.latest_ticket() == "t2"


def test_account_without_appsecret_is_kept_pending_and_checked_when_the_secret_arrives(org, onboarding, douyin, who):
    app = onboarding.app(org)
    app.app_id, app.app_name = "tt" + "a1" * 8, "小程序"
    assert service.bind_laike_account(app, "7000000000000000001", **who) is False
    assert app.laike_account_id == "7000000000000000001" and app.laike_account_name is None
    douyin.token()
    douyin.goodlife("GET", STORES, {"total": 1, "pois": [{"poi": {"poi_id": "111", "poi_name": "西店"}, "account": {
        "parent_account": {"account_id": "7000000000000000001", "account_name": "示例来客", "account_type": "Trademark"}}}]})
    service.save_app_secret(app, "the-right-secret", **who)
    assert app.laike_account_name == "示例来客"
    sent = douyin.calls(STORES)[0].request
    assert sent.headers["access-token"].startswith("clt.") and "account_id=7000000000000000001" in sent.url


def test_unknown_or_unbound_account_saves_nothing(org, onboarding, douyin, who):
    app = onboarding.app(org, upto=3)
    old = app.laike_account_id
    douyin.token()
    douyin.goodlife("GET", STORES, error_code=2100004, description="账户不存在")
    with pytest.raises(service.OnboardingError, match="账户不存在") as error:
        service.bind_laike_account(app, "7999", **who)
    assert error.value.field == "laike_account_id" and app.laike_account_id == old
    douyin.mock.replace(responses.GET, "http://douyin.test" + STORES, json={
        "data": {"error_code": 10004, "description": "无权限"}, "extra": {"error_code": 10004, "description": "无权限", "logid": "x"}})
    with pytest.raises(service.OnboardingError, match="绑定开发者账号"):
        service.bind_laike_account(app, "7999", **who)


def test_an_account_whose_stores_carry_no_name_is_kept_by_its_id(org, onboarding, douyin, who):
    """Douyin's sample gives account_name ""; an account with no store yet has no entry at all."""
    app = onboarding.app(org, upto=3)
    douyin.token()
    douyin.goodlife("GET", STORES, {"total": 1, "pois": [{"poi": {"poi_id": "111", "poi_name": "西店"}, "account": {
        "parent_account": {"account_id": "7000000000000000002", "account_name": ""}}}]})
    assert service.bind_laike_account(app, "7000000000000000002", **who) is True
    assert app.laike_account_name == "7000000000000000002"


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


def _versions(douyin, *, latest="1.0.0", audit=None, current=None):
    """package_version/versions in the reference shape; `audit` = (version, status, reason, has_publish)."""
    data = {}
    if latest:
        data["latest"] = {"version": latest, "summary": "", "ctime": 1, "has_audit": int(bool(audit and audit[0] == latest))}
    if audit:
        version, status, reason, published = audit
        data["audit"] = {"version": version, "summary": "", "ctime": 1, "status": status, "reason": reason,
                         "has_publish": published, "is_illegal_version": False}
    if current:
        data["current"] = {"version": current, "summary": "", "ctime": 1}
    douyin.apps("GET", VERSIONS, data)


def _ready(douyin, hosts=("toutiao", "douyin"), **versions):
    douyin.token()
    _versions(douyin, **versions)
    douyin.apps("GET", HOSTS, {"host_names": list(hosts), "released_host_names": []})


@pytest.mark.parametrize(("setup", "problem"), [
    ({"latest": None}, "还没有测试版本"),
    ({"hosts": ("toutiao",)}, "暂未开放本小程序在抖音 App 上提审"),
    ({"audit": ("1.0.0", 1, "", 1)}, "已通过审核"),
])
def test_what_stops_a_submission_is_said_and_nothing_is_submitted(db, org, onboarding, douyin, who, setup, problem):
    app = onboarding.app(org, upto=5)
    _ready(douyin, **setup)
    with pytest.raises(service.OnboardingError, match=problem):
        service.submit_for_review(app, description="", **who)
    assert service.latest_review(org.id) is None
    assert not douyin.calls(SUBMIT)


def test_submission_sends_the_test_version_for_the_douyin_app_and_a_second_one_waits(db, org, onboarding, douyin, who):
    app = onboarding.app(org, upto=5)
    _ready(douyin, latest="1.2.0")
    douyin.apps("POST", SUBMIT)
    review = service.submit_for_review(app, description="首个版本", **who)
    assert (review.status, review.version) == ("reviewing", "1.2.0") and len(review.audit_id) == 32
    assert json.loads(douyin.calls(SUBMIT)[0].request.body) == {"host_names": ["douyin"], "audit_note": "首个版本"}
    # The third-party platform's API takes the authorizer token stored at authorization, not the client token.
    assert douyin.calls(SUBMIT)[0].request.headers["access-token"] == vault.decrypt(app.authorizer_access_token_enc)
    assert douyin.calls(SUBMIT)[0].request.headers["access-token"].startswith("isvact.")
    with pytest.raises(service.OnboardingError, match="审核中"):
        service.submit_for_review(app, description="", **who)
    assert len(douyin.calls(SUBMIT)) == 1
    assert "onboarding.review.submitted" in codes(db, org)


@pytest.mark.parametrize("status", [None, 500])
def test_douyin_down_while_submitting_saves_nothing(org, onboarding, douyin, who, status):
    app = onboarding.app(org, upto=5)
    _ready(douyin)
    douyin.down("POST", SUBMIT, status=status)
    with pytest.raises(service.DouyinDown, match="重试"):
        service.submit_for_review(app, description="", **who)
    assert service.latest_review(org.id) is None
    assert len(douyin.calls(SUBMIT)) == 1  # never retried: Douyin has no idempotency key for it


def test_approval_releases_the_version_is_recorded_once_and_notifies_the_merchant(db, org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 1, "", 0))
    douyin.apps("POST", RELEASE)
    service.refresh_review(review, now=clock.now())
    service.refresh_review(review, now=clock.now())
    assert review.status == "approved" and review.decided_at == clock.now()
    assert len(douyin.calls(RELEASE)) == 1 and json.loads(douyin.calls(RELEASE)[0].request.body) == {}
    notes = db.session.scalars(select(Notification).where(Notification.organization_id == org.id)).all()
    assert [(n.kind, n.title) for n in notes] == [("miniapp_review", "小程序审核已通过")]
    assert "已发布上线" in notes[0].body and notes[0].link == "/onboarding/review"
    assert len(douyin.calls(VERSIONS)) == 1


def test_an_approved_version_already_online_is_not_released_again(org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 1, "", 1), current="1.0.0")
    service.refresh_review(review, now=clock.now())
    assert review.status == "approved" and not douyin.calls(RELEASE)


def test_a_failed_release_keeps_the_review_running_for_the_next_look(org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 1, "", 0))
    douyin.apps("POST", RELEASE, err_no=40000, err_msg="系统错误")
    with pytest.raises(service.OnboardingError):
        service.refresh_review(review, now=clock.now())
    assert review.status == "reviewing" and review.decided_at is None


def test_rejection_keeps_the_reason_and_the_same_version_is_resubmitted_as_such(db, org, onboarding, douyin, clock, owner):
    app = onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 2, "服务类目与资质不符", 0))
    service.refresh_review(review, now=clock.now())
    assert (review.status, review.reason) == ("rejected", "服务类目与资质不符")
    note = db.session.scalars(select(Notification).where(Notification.kind == "miniapp_review")).one()
    assert "服务类目与资质不符" in note.body
    _ready(douyin, audit=("1.0.0", 2, "服务类目与资质不符", 0))
    douyin.apps("POST", SUBMIT)
    again = service.submit_for_review(app, description="已补充资质", actor=owner, now=clock.now())
    assert again.status == "reviewing" and service.latest_review(org.id).id == again.id
    assert json.loads(douyin.calls(SUBMIT)[-1].request.body) == {"host_names": ["douyin"], "audit_note": "已补充资质", "audit_way": 1}


def test_a_new_test_version_after_a_rejection_is_submitted_normally(org, onboarding, douyin, clock, owner):
    app = onboarding.app(org, upto=5)
    onboarding.review(org, version="1.0.0", status="rejected", reason="闪退")
    _ready(douyin, latest="1.0.1", audit=("1.0.0", 2, "闪退", 0))
    douyin.apps("POST", SUBMIT)
    again = service.submit_for_review(app, description="", actor=owner, now=clock.now())
    assert again.version == "1.0.1"
    assert json.loads(douyin.calls(SUBMIT)[-1].request.body) == {"host_names": ["douyin"]}


@pytest.mark.parametrize(("audit", "reason"), [(("1.0.0", 3, "", 0), "审核已撤回"), (("0.9.0", 1, "", 1), None)])
def test_a_withdrawn_audit_ends_the_review_and_another_versions_audit_leaves_it_running(org, onboarding, douyin, clock, audit, reason):
    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=audit)
    service.refresh_review(review, now=clock.now())
    assert review.status == ("rejected" if reason else "reviewing")
    assert review.reason == (reason or "")
    assert not douyin.calls(RELEASE)


def test_a_review_still_auditing_is_left_running(org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 0, "", 0))
    service.refresh_review(review, now=clock.now())
    assert review.status == "reviewing" and review.checked_at == clock.now()
    # Throttled: a second look within the interval does not ask Douyin again.
    from datetime import timedelta

    service.refresh_review(review, now=clock.now(), min_interval=timedelta(seconds=3))
    assert len(douyin.calls(VERSIONS)) == 1


def test_the_periodic_poll_notices_decisions_nobody_is_watching(app, db, org, onboarding, douyin, clock):
    from portal import jobs
    from portal.onboarding.jobs import run_miniapp_review_poll

    onboarding.app(org, upto=5)
    review = onboarding.review(org, version="1.0.0")
    douyin.token()
    _versions(douyin, audit=("1.0.0", 1, "", 0))
    douyin.apps("POST", RELEASE)
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


def test_a_token_another_process_refreshed_meanwhile_is_used_without_asking_douyin(db, org, onboarding, douyin, who):
    """Both saw the old token expiring; the second reads the row under its lock after the first
    committed, finds a fresh token and does not spend the rotated refresh token again."""
    app = onboarding.app(org, upto=5)
    old = vault.decrypt(app.authorizer_access_token_enc)
    app.authorizer_expires_at = clock.now() + timedelta(minutes=2)
    db.session.commit()
    # The other process's refresh, committed while this one waited for the row.
    db.session.execute(update(DouyinApp).where(DouyinApp.id == app.id).values(
        authorizer_access_token_enc=vault.encrypt("isvact.other"), authorizer_expires_at=clock.now() + timedelta(hours=2)))
    authorization.refresh(app, now=clock.now(), seen=old)
    assert douyin.calls(AUTH_TOKEN) == []
    assert vault.decrypt(app.authorizer_access_token_enc) == "isvact.other"
