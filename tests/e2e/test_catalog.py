"""商品库 against the running sandbox: a product created in the browser, submitted, approved in the
sandbox console, then 刷新列表 shows it buyable; and a sync of a whole library over real HTTP."""

import re
import time

from sqlalchemy import select

from tests.e2e.conftest import connect_merchant, sign_in, wait_until


def test_create_submit_approve_refresh_and_see_it_buyable(live_portal, live_sandbox, demo_connected, desktop):
    page = desktop
    base = live_portal.url
    sign_in(page, base, "owner@demo.test")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{base}/catalog/new")
    page.select_option("#kind", "groupon")
    page.fill("#name", "浏览器双人火锅套餐")
    page.select_option("#category_id", "1001000")
    page.fill("#original_price", "128")
    page.fill("#price", "99.00")
    page.fill("#stock", "20")
    page.uncheck("#store_ids-1")  # a new product starts at every store; this one is for the first only
    page.click("#catalog-save")
    page.wait_for_url(re.compile(r"/catalog/\d+$"))
    product_url = page.url
    page.click("#catalog-submit")
    page.wait_for_url(product_url)
    assert page.locator("#catalog-product-status [data-review]").get_attribute("data-review") == "reviewing"

    # Its own context: cookies ignore ports, and the sandbox's session cookie would replace ours.
    console_context = page.context.browser.new_context()
    console = console_context.new_page()
    row = console.locator("#console-pending-products tr", has_text="浏览器双人火锅套餐")
    for _ in range(50):  # the submission travels through the outbox worker
        console.goto(f"{live_sandbox.url}/console/products")
        if row.count():
            break
        console.wait_for_timeout(200)
    row.locator("button[value=approve]").click()
    console_context.close()

    page.goto(f"{base}/catalog/?q=浏览器双人火锅套餐")
    page.click("#catalog-refresh")
    page.wait_for_selector("#catalog-sync-status[data-status=succeeded]", timeout=30000)
    rows = page.locator("#catalog-products tbody tr", has_text="浏览器双人火锅套餐")
    rows.locator("[data-buyable=yes]").wait_for(timeout=15000)
    assert "上架" in rows.locator("[data-col=douyin]").inner_text()
    page.goto(product_url)
    assert page.locator("#catalog-buyable [data-buyable]").get_attribute("data-buyable") == "yes"




def test_live_sandbox_sync_of_a_library(live_portal, live_sandbox):
    """Submissions go out through the portal's own worker; 刷新列表 runs as its RQ job, through
    injected 5xx and 429s, and a rerun changes nothing."""
    import requests

    from portal.accounts import service as accounts
    from portal.accounts.models import Store
    from portal.catalog import service, sync
    from portal.catalog.models import Product, ReviewStatus, SyncRun, SyncStatus
    from portal.extensions import db

    with live_portal.app.app_context():
        org = accounts.create_organization("商品库同步商户")
        accounts.create_store(org, "商品库同步商户·总店")
        db.session.commit()
    connected = connect_merchant(live_portal, live_sandbox, "商品库同步商户")
    org_id = connected["organization_id"]
    requests.get(f"{live_portal.url}/login", timeout=10)  # the in-process worker starts with the first request
    with live_portal.app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.organization_id == org_id))
        for i in range(62):
            data = service.ProductData(kind="groupon", name=f"同步套餐{i:02d}", original_price_fen=12800, price_fen=9900, stock=10,
                                       category_id="1001000", store_ids=[store_id])
            service.submit_product(service.create_product(org_id, data, actor=None), actor=None)
        db.session.commit()

    def douyin_ids():
        with live_portal.app.app_context():
            return dict(db.session.execute(select(Product.id, Product.douyin_product_id).where(Product.organization_id == org_id)).all())

    assert wait_until(lambda: all(douyin_ids().values()), 60)
    ids = douyin_ids()
    rejected = sorted(ids)[5]
    for pid, douyin_id in ids.items():
        live_sandbox.control.post(f"/products/{douyin_id}/review", {"approve": pid != rejected, "reason": "图片不清晰" if pid == rejected else ""})
    live_sandbox.control.post("", {"error_rate": 0.3, "error_mode": "mixed", "burst_429": 2})

    def start():
        # Webhooks for the approvals are being written meanwhile; SQLite refuses a write
        # transaction that races another (deferred BEGIN), so the click is simply repeated.
        from sqlalchemy.exc import OperationalError

        for _ in range(20):
            with live_portal.app.app_context():
                try:
                    run, _ = sync.start_sync_run(org_id, actor=None)
                    db.session.commit()
                    return run.id
                except OperationalError:
                    db.session.rollback()
            time.sleep(0.3)
        raise AssertionError("could not start a sync run")

    def sync_once():
        run_id = start()

        def done():
            with live_portal.app.app_context():
                return not db.session.get(SyncRun, run_id).status_enum.active

        assert wait_until(done, 60)
        with live_portal.app.app_context():
            run = db.session.get(SyncRun, run_id)
            return run.status, run.pages, run.changed, run.conflicts

    try:
        status, pages, changed, _conflicts = sync_once()
        assert status == SyncStatus.SUCCEEDED and pages >= 2 and changed >= 61  # webhooks may have applied some reviews first
        with live_portal.app.app_context():
            states = {p.id: (p.review_status, p.douyin_online, p.review_reason) for p in db.session.scalars(select(Product).where(Product.organization_id == org_id))}
        assert states[rejected] == (ReviewStatus.REJECTED, False, "图片不清晰")
        assert all(s[:2] == (ReviewStatus.APPROVED, True) for pid, s in states.items() if pid != rejected)
        status, _pages, changed, conflicts = sync_once()
        assert (status, changed, conflicts) == (SyncStatus.SUCCEEDED, 0, 0)
    finally:
        live_sandbox.control.post("", {"error_rate": 0, "burst_429": 0})
