"""The app center and the wizard pages: roles, tenancy, full page vs partial, 422, Douyin down."""

import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from portal.accounts.models import Edition, Role
from portal.onboarding import connection
from tests.fixtures.onboarding import BASE

BASIC_INFO = "/api/apps/v2/basic_info/get_info/"
VERSIONS = "/api/apps/v1/package_version/versions/"
HOSTS = "/api/apps/v1/package_version/get_audit_hosts/"
SUBMIT = "/api/apps/v1/package_version/audit/"
RELEASE = "/api/apps/v1/package_version/release/"
STEP_PAGES = ("/onboarding/", "/onboarding/apps", "/onboarding/prepare", "/onboarding/payment", "/onboarding/products", "/onboarding/trade", "/onboarding/review")


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def rail(page):
    return [li["data-status"] for li in page.select("#onboarding-rail li")]


def png(size=(300, 200)):
    out = io.BytesIO()
    Image.new("RGB", size, (250, 250, 250)).save(out, "PNG")
    return out.getvalue()


# --- who may see what --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    for path in STEP_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_store_managers_and_clerks_are_forbidden_everywhere(client, manager, clerk):
    for user in (manager, clerk):
        client.login_as(user)
        for path in STEP_PAGES:
            assert client.get(path).status_code == 403, path
        assert client.post_form("/onboarding/apps/douyin/enable").status_code == 403


def test_hq_admin_configures_for_the_whole_organization(client, accounts, org):
    admin = accounts.user(Role.HQ_ADMIN, org)
    client.login_as(admin)
    assert client.post_form("/onboarding/apps/douyin/enable").status_code == 303
    assert connection.find_app(org.id).enabled


# --- app center -----------------------------------------------------------------------------------------


def test_basic_edition_sees_why_and_what_to_do(client, accounts):
    basic = accounts.org("小店", edition=Edition.BASIC)
    client.login_as(accounts.user(Role.OWNER, basic))
    page = html(client.get("/onboarding/apps"))
    assert "高级版" in page.select_one("#onboarding-edition-required").text
    assert page.select_one("#onboarding-enable").has_attr("disabled")
    response = client.post_form("/onboarding/apps/douyin/enable")
    assert response.status_code == 422
    assert "升级" in html(response).select_one("#onboarding-app-error").text
    assert connection.find_app(basic.id) is None
    overview = html(client.get("/onboarding/"))
    assert set(rail_status["data-status"] for rail_status in overview.select("#onboarding-overview [data-status]")) == {"blocked"}


def test_owner_switches_the_app_on_then_off_keeping_data(client, owner, org, db):
    client.login_as(owner)
    assert html(client.get("/onboarding/")).select_one("#onboarding-not-enabled") is not None
    response = client.post_form("/onboarding/apps/douyin/enable")
    assert response.status_code == 303 and response.headers["Location"].endswith("/onboarding/")
    page = html(client.get("/onboarding/"))
    assert page.select_one("#onboarding-continue")["href"] == "/onboarding/prepare"
    app = connection.find_app(org.id)
    app.app_id = "tt0011223344556677"
    db.session.flush()
    assert client.post_form("/onboarding/apps/douyin/disable").status_code == 303
    app = connection.find_app(org.id)
    assert not app.enabled and app.app_id == "tt0011223344556677"
    assert html(client.get("/onboarding/prepare")).select_one("#onboarding-blocked") is not None


def test_every_page_links_back_to_the_app_center(client, owner, org, onboarding):
    onboarding.app(org)
    client.login_as(owner)
    for path in STEP_PAGES[2:]:
        assert html(client.get(path)).select_one("#onboarding-apps-link")["href"] == "/onboarding/apps", path


def test_the_wizard_says_where_things_are_as_the_portal_and_douyin_show_them(client, owner, org, onboarding):
    client.login_as(owner)
    reason = html(client.get("/onboarding/")).select_one("#onboarding-not-enabled").get_text()
    assert "左侧菜单「抖音推广」" in reason and "右上角的「应用中心」" in reason  # the names on screen
    apps = html(client.get("/onboarding/apps"))
    assert apps.select_one("#page-title").get_text() == "应用中心"
    assert apps.select_one("#onboarding-apps-crumb").get_text(" ", strip=True) == "抖音推广 › 应用中心"
    onboarding.app(org, upto=2)
    payment = html(client.get("/onboarding/payment")).get_text()
    assert "「支付方式管理」›「支付设置」中复制「支付系统密钥 SALT」和「Token」" in payment
    assert "无法事先向抖音核对 SALT 和 Token" in payment and "商户号会与抖音进件记录核对" in payment


def test_the_approved_review_asks_for_a_test_order_only_when_a_product_can_be_bought(client, owner, org, onboarding, shop, orders):
    onboarding.app(org, upto=5)
    onboarding.review(org, status="approved")
    client.login_as(owner)
    page = html(client.get("/onboarding/review"))
    assert page.select_one("#onboarding-test-order-not-yet") is not None and page.select_one("#tested") is None
    shop.product(org)
    assert html(client.get("/onboarding/review")).select_one("#tested") is not None
    order = orders.order(org)
    seen = html(client.get("/onboarding/review")).select_one("#onboarding-test-order-seen")
    assert seen.select_one("a.order-ref").get_text() == order.douyin_order_id


# --- the rail ---------------------------------------------------------------------------------------------


def test_the_rail_shows_derived_progress_with_reasons(client, owner, org, onboarding):
    onboarding.app(org, upto=3)
    client.login_as(owner)
    page = html(client.get("/onboarding/products"))
    assert rail(page) == ["done", "done", "current", "current", "blocked"]
    assert page.select_one("#onboarding-rail-step-3")["aria-current"] == "step"
    assert "门店" in page.select_one("#onboarding-rail-step-3 .onboarding-rail-reason").text
    assert "提审前请先完成" in page.select_one("#onboarding-rail-step-5").text


def test_a_blocked_step_shows_the_reason_and_no_forms(client, owner, org, onboarding):
    onboarding.app(org, upto=1)
    client.login_as(owner)
    page = html(client.get("/onboarding/trade"))
    assert "担保支付" in page.select_one("#onboarding-blocked").text
    assert page.select_one("#onboarding-platform-key-form") is None
    response = client.post_form("/onboarding/trade/keys")
    assert response.status_code == 422
    assert "担保支付" in html(response).select_one("#onboarding-blocked").text
    assert connection.find_app(org.id).private_key_enc is None


# --- step 1 ------------------------------------------------------------------------------------------------


GEN_LINK = "/api/tpapp/v3/auth/gen_link"
AUTH_TOKEN = "/api/tpapp/v2/auth/get_auth_token"
COMPONENT_TOKEN = "/openapi/v2/auth/token"
AUTH_PAGE = "http://douyin.test/tpapp/authorize/abc"


def _go_authorize(client, douyin):
    """去授权: the portal asks for the authorization page and sends the browser there; returns the
    state the way back must carry."""
    from portal import clock
    from portal.onboarding import authorization

    authorization.store_ticket("ticket-1", now=clock.now())
    douyin.mock.add("GET", BASE + COMPONENT_TOKEN, json={"err_no": 0, "err_msg": "", "component_access_token": "cmpt.1", "expires_in": 7200})
    douyin.apps("POST", GEN_LINK, {"link": AUTH_PAGE})
    response = client.get("/onboarding/prepare/authorize")
    assert response.status_code == 303 and response.headers["Location"] == AUTH_PAGE
    sent = json.loads(douyin.calls(GEN_LINK)[0].request.body)
    assert sent["link_type"] == 1 and sent["redirect_uri"].startswith("http://portal.test/onboarding/prepare/authorized?state=")
    assert douyin.calls(GEN_LINK)[0].request.headers["access-token"] == "cmpt.1"
    return parse_qs(urlsplit(sent["redirect_uri"]).query)["state"][0]


def test_the_step_offers_authorization_and_no_appid_field(client, owner, org, onboarding):
    onboarding.app(org)
    page = html(client.login_as(owner).get("/onboarding/prepare"))
    link = page.select_one("#onboarding-miniapp-form a#onboarding-miniapp-authorize")
    assert link["href"] == "/onboarding/prepare/authorize" and "去授权" in link.text
    assert page.select_one("#field-app_id") is None


def test_authorizing_the_mini_program_goes_to_douyin_and_back(client, owner, org, onboarding, douyin):
    onboarding.app(org)
    client.login_as(owner)
    state = _go_authorize(client, douyin)
    douyin.apps("GET", AUTH_TOKEN, {"authorizer_access_token": "isvact.1", "authorizer_refresh_token": "isvrft.1",
                                    "expires_in": 7200, "refresh_expires_in": 2592000, "authorizer_appid": "tt0123456789abcdef"})
    douyin.apps("GET", BASIC_INFO, {"app_id": "tt0123456789abcdef", "app_name": "示例餐饮小程序", "app_state": 0})
    response = client.get(f"/onboarding/prepare/authorized?state={state}&authorization_code=code-1&expires_in=3600")
    assert response.status_code == 303 and response.headers["Location"] == "/onboarding/prepare"
    page = html(client.get("/onboarding/prepare"))
    assert "示例餐饮小程序" in page.select_one("#onboarding-miniapp-current").text
    assert "重新授权" in page.select_one("#onboarding-miniapp-authorize").text
    # The state is used once: replaying the way back changes nothing.
    again = client.get(f"/onboarding/prepare/authorized?state={state}&authorization_code=code-1")
    assert again.status_code == 422 and len(douyin.calls(AUTH_TOKEN)) == 1


def test_a_way_back_without_our_state_is_refused_next_to_the_button(client, owner, org, onboarding, douyin):
    onboarding.app(org)
    client.login_as(owner)
    _go_authorize(client, douyin)
    response = client.get("/onboarding/prepare/authorized?state=forged&authorization_code=code-1")
    assert response.status_code == 422
    assert "重新点击「去授权」" in html(response).select_one("#onboarding-miniapp-form .form-error").text
    assert not douyin.calls(AUTH_TOKEN) and connection.find_app(org.id).app_id is None


@pytest.mark.parametrize("status", [None, 500])
def test_douyin_down_shows_a_message_and_retry_and_saves_nothing(client, owner, org, onboarding, douyin, status):
    onboarding.app(org)
    client.login_as(owner)
    state = _go_authorize(client, douyin)
    douyin.down("GET", AUTH_TOKEN, status=status)
    response = client.get(f"/onboarding/prepare/authorized?state={state}&authorization_code=code-1")
    assert response.status_code == 503
    page = html(response)
    assert "抖音暂时无法访问" in page.select_one("#onboarding-douyin-down").text
    retry = page.select_one("#onboarding-miniapp-form #onboarding-retry")
    assert retry is not None and retry["href"] == "/onboarding/prepare/authorize"
    assert connection.find_app(org.id).app_id is None


def test_an_unauthorized_app_shows_why_step_one_is_open_again(client, owner, org, onboarding):
    from portal import clock

    app = onboarding.app(org, upto=5)
    app.unauthorized_at = clock.now()
    page = html(client.login_as(owner).get("/onboarding/prepare"))
    assert "取消对本平台的授权" in page.select_one("#onboarding-miniapp-unauthorized").text
    assert "去授权" in page.select_one("#onboarding-miniapp-authorize").text
    assert rail(page)[0] == "current"


def test_a_push_that_is_not_ours_is_refused_and_ours_is_acknowledged(client, app, db):
    from portal.douyin.component import ComponentCredentials, encrypt_event
    from portal.onboarding import authorization

    with app.app_context():
        ours = authorization.component_credentials()
    event = {"Ticket": "t-9", "FromUserName": "ByteDanceMicroApp", "CreateTime": "2019-01-14 12:45:10", "MsgType": "Ticket", "Event": "PUSH"}
    forged = encrypt_event(ComponentCredentials(ours.component_appid, "x", "other-token", ours.encoding_aes_key), event, timestamp="1")
    assert client.post("/douyin/component/events", json=forged).status_code == 401
    assert authorization.latest_ticket() is None
    response = client.post("/douyin/component/events", json=encrypt_event(ours, event, timestamp="1"))
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert authorization.latest_ticket() == "t-9"


def test_account_id_must_be_digits(client, owner, org, onboarding):
    onboarding.app(org)
    client.login_as(owner)
    response = client.post_form("/onboarding/prepare/account", {"laike_account_id": "abc"})
    assert response.status_code == 422
    assert "应为数字" in html(response).select_one("#field-laike_account_id .form-error").text


def test_pending_account_is_shown_as_waiting_for_the_appsecret(client, owner, org, onboarding):
    onboarding.app(org)
    client.login_as(owner)
    assert client.post_form("/onboarding/prepare/account", {"laike_account_id": "7001"}).status_code == 303
    page = html(client.get("/onboarding/prepare"))
    assert "待校验" in page.select_one("#onboarding-account-pending").text


# --- the licence upload ------------------------------------------------------------------------------


def upload(client, data, name="licence.png", watermark=True):
    form = {"licence": (io.BytesIO(data), name)}
    if watermark:
        form["watermark"] = "y"
    return client.post_form("/onboarding/prepare/licence", form, content_type="multipart/form-data")


def test_a_real_image_is_stored_outside_static_and_served_only_to_the_organization(app, client, owner, org, accounts, onboarding):
    onboarding.app(org)
    client.login_as(owner)
    original = png()
    assert upload(client, original, watermark=False).status_code == 303
    stored = connection.find_app(org.id)
    path = Path(app.instance_path) / stored.licence_path
    assert path.exists() and Path(app.instance_path, "licences", str(org.id)) in path.parents
    assert not str(path).startswith(str(Path(app.static_folder)))
    response = client.get(f"/onboarding/licence/{stored.id}")
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data == original
    assert "no-store" in response.headers["Cache-Control"]
    page = html(client.get("/onboarding/prepare"))
    assert page.select_one("#onboarding-licence-stamp") is not None
    # Another merchant cannot fetch it; a store manager of ours neither.
    other = accounts.org("别家")
    client.login_as(accounts.user(Role.OWNER, other))
    assert client.get(f"/onboarding/licence/{stored.id}").status_code == 404
    client.login_as(accounts.user(Role.STORE_MANAGER, org, org.stores[0]))
    assert client.get(f"/onboarding/licence/{stored.id}").status_code == 403


def test_watermark_offered_after_upload_replaces_the_file(app, client, owner, org, onboarding):
    onboarding.app(org)
    client.login_as(owner)
    upload(client, png(), watermark=False)
    before = connection.find_app(org.id).licence_path
    assert client.post_form("/onboarding/prepare/licence/watermark").status_code == 303
    after = connection.find_app(org.id)
    assert after.licence_watermarked and after.licence_path != before
    assert not (Path(app.instance_path) / before).exists()
    assert client.get(f"/onboarding/licence/{after.id}").data != png()


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"just some text, honestly" * 20, "licence.jpg", "不是有效的图片"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (11 * 1024 * 1024), "big.png", "不能超过 10MB"),
        (png((900, 700))[:300], "cut.png", "损坏"),
    ],
    ids=["renamed-non-image", "eleven-megabytes", "truncated"],
)
def test_bad_uploads_are_refused_next_to_the_field_and_save_nothing(app, client, owner, org, onboarding, data, name, message):
    onboarding.app(org)
    client.login_as(owner)
    folder = Path(app.instance_path, "licences", str(org.id))
    before = set(folder.iterdir()) if folder.exists() else set()
    response = upload(client, data, name)
    assert response.status_code == 422
    assert message in html(response).select_one("#field-licence .form-error").text
    assert connection.find_app(org.id).licence_path is None
    assert (set(folder.iterdir()) if folder.exists() else set()) == before


def test_the_licence_size_is_checked_in_the_browser_before_upload(client, owner, org, onboarding):
    from portal.onboarding import licence

    onboarding.app(org)
    client.login_as(owner)
    field = html(client.get("/onboarding/prepare")).select_one("#licence")
    assert int(field["data-max-bytes"]) == licence.MAX_BYTES and "10MB" in field["data-too-big"]
    assert html(client.get("/onboarding/prepare")).select_one("#licence-size-error[hidden]") is not None


# --- step 2 ------------------------------------------------------------------------------------------------


def test_appsecret_is_never_shown_again_in_full(client, owner, org, onboarding, douyin):
    onboarding.app(org, upto=2)
    client.login_as(owner)
    douyin.token()
    assert client.post_form("/onboarding/payment/secret", {"app_secret": "abcdef0123456789secret"}).status_code == 303
    text = client.get("/onboarding/payment").get_data(as_text=True)
    assert "abcdef0123456789secret" not in text
    assert "cret" in html(client.get("/onboarding/payment")).select_one("#onboarding-secret-current code").text


def test_wrong_appsecret_is_a_422_on_its_field(client, owner, org, onboarding, douyin):
    onboarding.app(org, upto=2)
    client.login_as(owner)
    douyin.token(error_code=10013)
    response = client.post_form("/onboarding/payment/secret", {"app_secret": "nope"})
    assert response.status_code == 422
    assert "AppSecret 不正确" in html(response).select_one("#field-app_secret .form-error").text


def test_payment_status_refresh_over_htmx_when_douyin_is_down(hx, owner, org, onboarding, douyin):
    onboarding.app(org, upto=3)
    hx.login_as(owner)
    douyin.token()
    douyin.down("POST", "/api/apps/ecpay/v3/saas/query_merchant_status/", status=502)
    response = hx.post_form("/onboarding/payment/status", {"merchant_id": "71234567890"})
    assert response.status_code == 200
    page = html(response)
    assert page.select_one("#onboarding-payment-status #onboarding-douyin-down") is not None
    assert page.select_one("#onboarding-payment-state")["data-status"] == "APPROVED"  # unchanged
    assert page.select_one("#onboarding-payment-status #merchant_id")["value"] == "71234567890"  # kept for 重试


def test_payment_status_refresh_needs_a_merchant_id(hx, owner, org, onboarding):
    onboarding.app(org, upto=3)
    hx.login_as(owner)
    response = hx.post_form("/onboarding/payment/status", {"merchant_id": "12-34"})
    assert response.status_code == 422
    assert "字母或数字" in html(response).select_one("#onboarding-payment-status #merchant_id + .invalid-feedback").text


# --- step 3 ------------------------------------------------------------------------------------------------


def test_store_authorization_form_errors_and_tenancy(client, owner, org, accounts, onboarding):
    onboarding.app(org, upto=3)
    client.login_as(owner)
    store = org.stores[1]
    response = client.post_form(f"/onboarding/products/stores/{store.id}", {f"store-{store.id}-douyin_account_id": "7001", f"store-{store.id}-douyin_poi_id": "x"})
    assert response.status_code == 422
    assert "应为数字" in html(response).select_one(f"#field-store-{store.id}-douyin_poi_id .form-error").text
    foreign = accounts.org("别家").stores[0]
    assert client.post_form(f"/onboarding/products/stores/{foreign.id}", {}).status_code == 404


def test_products_page_links_into_the_product_library(client, owner, org, onboarding):
    onboarding.app(org, upto=3)
    client.login_as(owner)
    page = html(client.get("/onboarding/products"))
    assert page.select_one("#onboarding-catalog-link")["href"] == "/catalog/"
    assert "审核中 0 个" in page.select_one("#onboarding-product-counts").text


def test_shelf_block_questionnaire_unchecked_line_is_flagged(client, owner, org, onboarding):
    onboarding.app(org, upto=3)
    client.login_as(owner)
    response = client.post_form("/onboarding/products/shelf-block", {"submitted": "y"})
    assert response.status_code == 422
    assert "请确认此项" in html(response).select_one("#field-same_pois .form-error").text


# --- step 4 ------------------------------------------------------------------------------------------------


def test_trade_page_shows_the_callback_urls_and_the_public_key(app, client, owner, org, onboarding):
    stored = onboarding.app(org, upto=5)
    client.login_as(owner)
    page = html(client.get("/onboarding/trade"))
    with app.test_request_context():
        urls = connection.callback_urls(stored)
    assert page.select_one("#onboarding-callback-trade").text == urls["trade"]
    assert page.select_one("#onboarding-callback-webhook").text == urls["webhook"]
    assert "BEGIN PUBLIC KEY" in page.select_one("#onboarding-public-key").text
    assert "PRIVATE" not in page.get_text()


# --- step 5 ------------------------------------------------------------------------------------------------


def test_review_page_shows_preflight_and_the_expected_decision(client, owner, org, onboarding, clock):
    onboarding.app(org, upto=5)
    onboarding.review(org)
    client.login_as(owner)
    page = html(client.get("/onboarding/review"))
    assert all(li["data-done"] == "true" for li in page.select("#onboarding-preflight li"))
    state = page.select_one("#onboarding-review-state").text
    assert "2026-11-23" in state and "2026-11-25" in state
    assert page.select_one("#onboarding-review")["hx-trigger"] == "every 2s"
    assert page.select_one("#onboarding-submit-form") is None


def _audit(version="1.0.0", status=0, reason="", published=0):
    return {"latest": {"version": version, "has_audit": 1},
            "audit": {"version": version, "status": status, "reason": reason, "has_publish": published, "is_illegal_version": False}}


def test_an_overlong_note_is_a_422(client, owner, org, onboarding, douyin):
    onboarding.app(org, upto=5)
    client.login_as(owner)
    response = client.post_form("/onboarding/review/submit", {"description": "长" * 201})
    assert response.status_code == 422
    assert "200" in html(response).select_one("#field-description .form-error").text
    assert not douyin.mock.calls


def test_the_check_names_the_test_version_that_will_be_submitted(hx, owner, org, onboarding, douyin):
    onboarding.app(org, upto=5)
    hx.login_as(owner)
    douyin.token()
    douyin.apps("GET", VERSIONS, {"latest": {"version": "1.3.0", "has_audit": 0}})
    douyin.apps("GET", HOSTS, {"host_names": ["douyin"], "released_host_names": []})
    page = html(hx.post_form("/onboarding/review/preview", {}))
    assert "1.3.0" in page.select_one("#onboarding-preview-version").text


def test_submitting_shows_the_review_running_with_its_working_day_window(client, hx, owner, org, onboarding, douyin, clock):
    onboarding.app(org, upto=5)
    hx.login_as(owner)
    douyin.token()
    douyin.apps("GET", VERSIONS, {"latest": {"version": "1.0.0", "has_audit": 0}})
    douyin.apps("GET", HOSTS, {"host_names": ["douyin"], "released_host_names": []})
    douyin.apps("POST", SUBMIT)
    response = hx.post_form("/onboarding/review/submit", {"description": "首版"})
    assert response.headers["HX-Redirect"] == "/onboarding/review"
    client.login_as(owner)
    page = html(client.get("/onboarding/review"))
    state = page.select_one("#onboarding-review-state").text
    assert "审核中" in state and "1~3 个工作日" in state and "2026-11-23" in state and "2026-11-25" in state
    assert page.select_one("#onboarding-submit-form") is None


def test_the_poll_stops_once_douyin_decides_and_updates_the_rail(hx, owner, org, onboarding, douyin):
    onboarding.app(org, upto=5)
    review = onboarding.review(org)
    hx.login_as(owner)
    douyin.token()
    douyin.apps("GET", VERSIONS, _audit(review.version))
    page = html(hx.get("/onboarding/review/status"))
    assert page.select_one("#onboarding-review")["hx-trigger"] == "every 2s"
    douyin.mock.replace("GET", "http://douyin.test" + VERSIONS, json={"err_no": 0, "err_msg": "success", "log_id": "l", "data": _audit(review.version, status=1)})
    douyin.apps("POST", RELEASE)
    from portal import clock as portal_clock
    from datetime import timedelta

    portal_clock.advance(timedelta(seconds=5))
    response = hx.get("/onboarding/review/status")
    page = html(response)
    root = page.select_one("#onboarding-review")
    assert not root.has_attr("hx-trigger")
    assert "已通过" in page.select_one("#onboarding-review-state").text
    assert page.select_one("#onboarding-full-shelf-form") is not None
    assert page.select_one("#onboarding-rail")["hx-swap-oob"] == "true"
    assert page.select_one("#onboarding-rail-step-5")["data-status"] == "current"


def test_the_poll_survives_douyin_being_down(hx, owner, org, onboarding, douyin):
    onboarding.app(org, upto=5)
    onboarding.review(org)
    hx.login_as(owner)
    douyin.token()
    douyin.down("GET", VERSIONS)
    response = hx.get("/onboarding/review/status")
    assert response.status_code == 200
    page = html(response)
    assert page.select_one("#onboarding-review-poll-error") is not None
    assert page.select_one("#onboarding-review")["hx-trigger"] == "every 2s"


def test_rejected_review_shows_the_reason_and_the_resubmit_form(client, owner, org, onboarding):
    onboarding.app(org, upto=5)
    onboarding.review(org, status="rejected", reason="缺少退款入口")
    client.login_as(owner)
    page = html(client.get("/onboarding/review"))
    assert "缺少退款入口" in page.select_one("#onboarding-review-reason").text
    assert page.select_one("#onboarding-submit-review").text.strip() == "重新提交审核"
    assert not page.select_one("#onboarding-review").has_attr("hx-trigger")


# --- every step: full page for a normal request, the form's partial for htmx ----------------------------


@pytest.mark.parametrize(
    "url, data, root, field",
    [
        ("/onboarding/prepare/account", {"laike_account_id": "x"}, "onboarding-account", "laike_account_id"),
        ("/onboarding/payment/settings", {"merchant_uid": "12"}, "onboarding-payment-settings", "merchant_uid"),
        ("/onboarding/products/shelf-block", {}, "onboarding-shelf-block", "submitted"),
        ("/onboarding/trade/connect", {"platform_public_key": "junk", "key_version": "1"}, "onboarding-platform-key", "platform_public_key"),
        ("/onboarding/review/submit", {"description": "x" * 201}, "onboarding-review", "description"),
    ],
    ids=["step1", "step2", "step3", "step4", "step5"],
)
def test_each_step_answers_a_bad_form_with_a_422_page_or_partial(client, hx, owner, org, onboarding, douyin, url, data, root, field):
    onboarding.app(org, upto=5)
    onboarding.review(org, status="rejected", reason="x")
    client.login_as(owner)
    full = client.post_form(url, data)
    assert full.status_code == 422
    page = html(full)
    assert page.select_one("#onboarding-rail") is not None
    assert page.select_one(f"#{root} #field-{field} .form-error") is not None
    hx.login_as(owner)
    partial = hx.post_form(url, data)
    assert partial.status_code == 422
    fragment = html(partial)
    roots = [el for el in fragment.children if getattr(el, "name", None)]
    assert [el.get("id") for el in roots] == [root]
    assert fragment.select_one(f"#field-{field} .form-error") is not None
    assert not douyin.mock.calls


def test_licence_subject_is_saved_and_an_individual_business_needs_its_operator(client, owner, org, clock, db):
    from portal.onboarding import service as onboarding_service

    onboarding_service.enable_app(org, actor=None, now=clock.now())
    db.session.commit()
    client.login_as(owner)
    response = client.post_form("/onboarding/prepare/licence/subject", {"subject": "朝阳区示例小吃店", "kind": "individual", "operator": ""})
    assert response.status_code == 422
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("#field-operator .form-error") is not None
    assert connection.find_app(org.id).licence_subject is None
    response = client.post_form("/onboarding/prepare/licence/subject", {"subject": " 北京示例（国贸）餐饮有限公司 ", "kind": "enterprise", "operator": "王五"})
    assert response.status_code == 303
    app = connection.find_app(org.id)
    assert (app.licence_subject, app.licence_kind, app.licence_operator) == ("北京示例（国贸）餐饮有限公司", "enterprise", None)


def test_the_licence_subject_starts_as_douyins_and_a_different_one_is_pointed_out(client, owner, org, clock, db):
    """Douyin's registered subject (read at authorization) fills the field. The licence is what
    counts, so another subject is saved as typed, and the step says it differs from Douyin's; a
    个体工商户 registered on Douyin under its operator's name does not differ."""
    from portal.onboarding import service as onboarding_service

    app = onboarding_service.enable_app(org, actor=None, now=clock.now())
    app.douyin_subject = "北京示例（国贸）餐饮有限公司"
    db.session.commit()
    client.login_as(owner)

    def page():
        return BeautifulSoup(client.get("/onboarding/prepare").get_data(as_text=True), "html.parser")

    assert page().select_one("#subject")["value"] == "北京示例（国贸）餐饮有限公司"
    assert page().select_one("#onboarding-subject-mismatch") is None
    # Full-width brackets and spaces fold: the same subject.
    assert client.post_form("/onboarding/prepare/licence/subject", {"subject": "北京示例(国贸) 餐饮有限公司", "kind": "enterprise"}).status_code == 303
    assert page().select_one("#onboarding-subject-mismatch") is None
    assert client.post_form("/onboarding/prepare/licence/subject", {"subject": "北京另一家餐饮有限公司", "kind": "enterprise"}).status_code == 303
    assert connection.find_app(org.id).licence_subject == "北京另一家餐饮有限公司"
    warning = page().select_one("#onboarding-subject-mismatch").get_text()
    assert "北京示例（国贸）餐饮有限公司" in warning and "北京另一家餐饮有限公司" in warning
    app = connection.find_app(org.id)
    app.douyin_subject = "张三"
    db.session.commit()
    assert client.post_form("/onboarding/prepare/licence/subject", {"subject": "朝阳区示例小吃店", "kind": "individual", "operator": "张三"}).status_code == 303
    assert page().select_one("#onboarding-subject-mismatch") is None
