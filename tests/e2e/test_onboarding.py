"""A fresh merchant walks the 抖音推广 wizard in a real browser against the running sandbox,
from switching the app on to an approved mini-program."""

import io

from PIL import Image
from sqlalchemy import select

from tests.e2e.conftest import sign_in

PASSWORD = "demo-pass-1234"


def make_fresh_merchant(live_portal) -> dict:
    from portal.accounts import service
    from portal.accounts.models import Edition, Role
    from portal.extensions import db

    with live_portal.app.app_context():
        org = service.create_organization("抖音新商户", edition=Edition.ADVANCED)
        store = service.create_store(org, "抖音新商户·旗舰店", address="杭州市西湖区文三路1号")
        owner = service.create_user("fresh.owner@e2e.test", PASSWORD, name="新店主")
        service.add_membership(owner, org, Role.OWNER)
        db.session.commit()
        return {"organization_id": org.id, "store_id": store.id, "email": owner.email}


def licence_png(tmp_path):
    path = tmp_path / "营业执照.png"
    out = io.BytesIO()
    Image.new("RGB", (900, 600), (245, 245, 240)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def rail_status(page, number):
    return page.locator(f"#onboarding-rail-step-{number}").get_attribute("data-status")


def test_fresh_merchant_goes_from_switching_on_to_an_approved_mini_program(live_portal, live_sandbox, desktop, tmp_path):
    page, control = desktop, live_sandbox.control
    merchant = make_fresh_merchant(live_portal)
    # What the merchant holds on Douyin's side: a Laike account with one POI and a mini-program
    # whose 支付进件 is still being reviewed.
    account = control.post("/accounts", {"account_name": "抖音新商户"})
    poi = control.post("/pois", {"account_id": account["account_id"], "poi_name": "抖音新商户·旗舰店"})
    douyin_app = control.post("/apps", {"name": "抖音新商户小程序", "account_id": account["account_id"], "onboarding_status": "REVIEWING"})
    appid = douyin_app["appid"]

    sign_in(page, live_portal.url, merchant["email"])
    page.wait_for_url("**/dashboard")
    page.locator("#main-nav").get_by_text("抖音推广", exact=True).click()
    page.locator("#onboarding-not-enabled").wait_for()

    # App center: switch 抖音推广 on.
    page.locator("#onboarding-not-enabled a").click()
    page.click("#onboarding-enable")
    page.locator("#onboarding-continue").click()
    page.wait_for_url("**/onboarding/prepare")

    # Step 1: authorize the mini-program on Douyin's authorization page (the sandbox's), which sends
    # the browser back with the code; then the Laike account (waits for the AppSecret), the licence.
    page.click("#onboarding-miniapp-authorize")
    page.wait_for_url("**/tpapp/authorize/**")
    page.select_option("#tpapp-appid", appid)
    page.check("#tpapp-agree")
    page.click("#tpapp-submit")
    page.wait_for_url("**/onboarding/prepare")
    page.locator("#onboarding-miniapp-current").wait_for()
    assert "抖音新商户小程序" in page.locator("#onboarding-miniapp-current").inner_text()
    # The licence subject starts as the mini-program's subject registered with Douyin.
    assert page.locator("#subject").input_value() == "抖音新商户"
    page.fill("#laike_account_id", account["account_id"])
    page.click("#onboarding-account-submit")
    page.locator("#onboarding-account-pending").wait_for()
    assert "待校验" in page.locator("#onboarding-account-pending").inner_text()
    page.set_input_files("#licence", str(licence_png(tmp_path)))
    page.click("#onboarding-licence-submit")
    page.locator("#onboarding-licence-watermarked").wait_for()
    assert rail_status(page, 2) == "current"

    # Step 2: AppSecret (verified live), 进件 status refreshed until approved, payment settings.
    page.locator("#onboarding-rail-step-2 a").click()
    page.wait_for_url("**/onboarding/payment")
    page.fill("#app_secret", douyin_app["app_secret"])
    page.click("#onboarding-secret-submit")
    page.locator("#onboarding-secret-current").wait_for()
    assert douyin_app["app_secret"] not in page.content()
    assert rail_status(page, 1) == "done"  # the Laike account was checked with the new AppSecret
    # The 进件's merchant id (Douyin assigns it when the application is filed) is read from the console.
    page.fill("#merchant_id", control.get(f"/apps/{appid}")["merchant_uid"])
    page.click("#onboarding-payment-refresh")
    page.locator("#onboarding-payment-state[data-status=REVIEWING]").wait_for()
    control.post(f"/apps/{appid}", {"onboarding_status": "APPROVED"})
    page.click("#onboarding-payment-refresh")
    page.locator("#onboarding-payment-state[data-status=APPROVED]").wait_for()
    page.fill("#salt", "sandbox-salt-123")
    page.fill("#token", "sandbox-token-456")
    # The merchant uid queried for the 进件 is offered in the form.
    assert page.input_value("#merchant_uid") == control.get(f"/apps/{appid}")["merchant_uid"]
    page.click("#onboarding-payment-submit")
    page.locator("#onboarding-payment-settings-saved").wait_for()
    assert rail_status(page, 2) == "done"

    # Step 3: the store is authorized against the POI query; the shelf-block questionnaire.
    page.locator("#onboarding-rail-step-3 a").click()
    page.wait_for_url("**/onboarding/products")
    prefix = f"#store-{merchant['store_id']}-"
    assert page.input_value(prefix + "douyin_account_id") == account["account_id"]
    page.fill(prefix + "douyin_poi_id", poi["poi_id"])
    page.click(f"#onboarding-store-{merchant['store_id']}-submit")
    page.locator(".onboarding-store-bound").wait_for()
    for box in ("#submitted", "#same_pois", "#understood"):
        page.check(box)
    page.click("#onboarding-shelf-block-submit")
    page.locator("#onboarding-shelf-block-confirmed").wait_for()
    assert rail_status(page, 3) == "done"

    # Step 4: generate the app key, paste it and the callback URLs into the sandbox console,
    # paste the platform key back, connect (a signed call must pass), confirm the KA package.
    page.locator("#onboarding-rail-step-4 a").click()
    page.wait_for_url("**/onboarding/trade")
    page.click("#onboarding-generate-keys")
    page.locator("#onboarding-public-key").wait_for()
    updated = control.post(f"/apps/{appid}", {
        "public_key_pem": page.input_value("#onboarding-public-key"),
        "trade_callback_url": page.inner_text("#onboarding-callback-trade"),
        "webhook_url": page.inner_text("#onboarding-callback-webhook"),
    })
    page.fill("#platform_public_key", updated["platform_public_key"])
    page.fill("#key_version", updated["key_version"])
    page.click("#onboarding-connect")
    page.locator("#onboarding-trade-connected").wait_for()
    page.check("#confirmed")
    page.click("#onboarding-ka-submit")
    page.locator("#onboarding-ka-confirmed").wait_for()
    assert rail_status(page, 4) == "done"

    # Step 5: pre-flight all green, the check reads the test version from Douyin, submit; the
    # sandbox's reviewer rejects with a reason, the merchant resubmits, the reviewer approves and
    # the portal releases the version.
    page.locator("#onboarding-rail-step-5 a").click()
    page.wait_for_url("**/onboarding/review")
    assert page.locator("#onboarding-preflight li[data-done=false]").count() == 0
    page.click("#onboarding-preview-check")
    page.locator("#onboarding-preview-ok").wait_for()
    assert "1.0.0" in page.inner_text("#onboarding-preview-version")
    page.fill("#description", "首个版本")
    page.click("#onboarding-submit-review")
    page.locator("#onboarding-review[data-status=reviewing]").wait_for()
    assert "审核中" in page.inner_text("#onboarding-review-state") and "1~3 个工作日" in page.inner_text("#onboarding-review-state")

    control.post(f"/apps/{appid}/package_audit/review", {"approve": False, "reason": "小程序页面存在闪退"})
    page.locator("#onboarding-review[data-status=rejected]").wait_for(timeout=30000)
    assert "小程序页面存在闪退" in page.inner_text("#onboarding-review-reason")
    page.click("#onboarding-submit-review")
    page.locator("#onboarding-review[data-status=reviewing]").wait_for()

    from portal.extensions import db
    from portal.notifications import Notification

    control.post(f"/apps/{appid}/package_audit/review", {"approve": True})
    # The self-polling partial notices the decision without a reload.
    page.locator("#onboarding-review[data-status=approved]").wait_for(timeout=30000)
    assert "已通过" in page.inner_text("#onboarding-review-state")
    assert control.get(f"/apps/{appid}")["status"] == "ONLINE"  # released, not only approved
    with live_portal.app.app_context():
        kinds = db.session.scalars(select(Notification.kind).where(Notification.organization_id == merchant["organization_id"])).all()
    assert kinds == ["miniapp_review", "miniapp_review"]

    # No product can be bought yet, so no test order can exist: the questionnaire does not ask for one.
    assert page.locator("#tested").count() == 0 and page.locator("#onboarding-test-order-not-yet").is_visible()
    for box in ("#submitted", "#online"):
        page.check(box)
    page.click("#onboarding-full-shelf-submit")
    page.locator("#onboarding-full-shelf-confirmed").wait_for()
    assert [rail_status(page, n) for n in range(1, 6)] == ["done"] * 5
