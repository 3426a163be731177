"""The product page says where a product stands in words that are true at each stage, with the
one action that moves it on."""

from bs4 import BeautifulSoup

from portal import clock
from portal.catalog.models import ReviewStatus


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def stage(client, product):
    page = html(client.get(f"/catalog/{product.id}"))
    step = page.select_one("#catalog-next-step")
    badge = page.select_one("#catalog-product-status [data-stage]")
    actions = [el["id"] for el in step.select("button[id], a[id]")]
    return badge.get_text(strip=True), step.select_one("#catalog-next-step-text").get_text(" ", strip=True), actions


def test_a_draft_is_called_a_draft_and_offers_submit(client, owner, catalog, db):
    product = catalog.product(owner)
    db.session.commit()
    label, text, actions = stage(client.login_as(owner), product)
    assert label == "草稿" and text.startswith("草稿") and actions == ["catalog-submit"]


def test_under_review_offers_nothing_to_press(client, owner, catalog, db):
    product = catalog.product(owner)
    product.review_status, product.submitted_at = ReviewStatus.REVIEWING, clock.now()
    db.session.commit()
    label, text, actions = stage(client.login_as(owner), product)
    assert label == "审核中" and "已提交抖音" in text and actions == []


def test_rejected_shows_the_reason_and_asks_for_a_fix(client, owner, catalog, db):
    product = catalog.product(owner)
    product.review_status, product.review_reason = ReviewStatus.REJECTED, "图片含二维码"
    db.session.commit()
    client.login_as(owner)
    label, _text, actions = stage(client, product)
    assert label == "审核未通过" and actions == ["catalog-fix"]
    assert "图片含二维码" in html(client.get(f"/catalog/{product.id}")).select_one("#catalog-review-reason").get_text()
    row = html(client.get("/catalog/")).select_one(f"#catalog-product-{product.id}")
    assert "审核未通过" in row.get_text() and "（图片含二维码）" in row.get_text()


def test_approved_but_not_on_douyin_is_waiting_to_go_on_sale(client, owner, catalog, goods_api, db):
    product = catalog.approved(goods_api)
    product.douyin_online = False
    db.session.commit()
    client.login_as(owner)
    label, text, actions = stage(client, product)
    assert label == "已通过·待上架" and actions == ["catalog-put-on-sale"]
    row = html(client.get("/catalog/")).select_one(f"#catalog-product-{product.id} [data-review]")
    assert row["data-review"] == "approved_offline" and row.get_text() == "已通过·待上架"


def test_approved_and_on_sale_needs_nothing_until_edited(client, owner, catalog, goods_api, db):
    product = catalog.approved(goods_api)
    db.session.commit()
    client.login_as(owner)
    label, _text, actions = stage(client, product)
    assert label == "已通过·已上架" and actions == []
    product.name = "改名后的套餐"
    db.session.commit()
    _label, text, actions = stage(client, product)
    assert "有修改尚未提交抖音审核" in text and actions == ["catalog-submit"]
