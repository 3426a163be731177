"""The product form as a shop owner meets it: stores as checkboxes, fields per kind, sensible
defaults, pictures uploaded and served to Douyin, and the page the form leads to."""

import io
import json

from bs4 import BeautifulSoup
from PIL import Image
from sqlalchemy import select

from portal.catalog import images, service
from portal.catalog.models import Product

FORM = {"kind": "groupon", "name": "双人套餐", "original_price": "128", "price": "99.00", "stock": "10", "uses": "", "valid_days": "90",
        "category_id": "1001000"}


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def png(width=40, height=30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 50)).save(out, "PNG")
    return out.getvalue()


def test_a_new_product_starts_at_every_store_with_stock_and_count_only_for_a_count_card(client, owner, org, goods_api, db):
    page = html(client.login_as(owner).get("/catalog/new"))
    boxes = page.select("#field-store_ids input[type=checkbox][name=store_ids]")
    assert [int(b["value"]) for b in boxes] == [s.id for s in org.stores] and all(b.has_attr("checked") for b in boxes)
    assert page.select_one("select[name=store_ids]") is None
    assert int(page.select_one("#stock")["value"]) > 0
    assert page.select_one("#catalog-uses-block")["data-show-for"] == "kind:count_card"
    assert "goods" not in page.select_one("#catalog-valid-days-block")["data-show-for"]
    assert int(page.select_one("#uses")["value"]) >= 2  # a 次卡 is at least two visits
    assert page.select_one("#catalog-product-form form")["enctype"] == "multipart/form-data"


def test_count_card_needs_its_count_and_other_kinds_ignore_it(client, owner, org, goods_api, db):
    client.login_as(owner)
    store = str(org.stores[0].id)
    response = client.post_form("/catalog/new", dict(FORM, kind="count_card", uses="", store_ids=store))
    assert response.status_code == 422
    assert html(response).select_one("#field-uses .form-error").get_text() == "次卡的次数应在 2 到 100 之间"
    assert client.post_form("/catalog/new", dict(FORM, uses="abc", store_ids=store)).status_code == 303
    assert db.session.scalar(select(Product.uses).where(Product.name == "双人套餐")) == 1
    assert client.post_form("/catalog/new", dict(FORM, name="快递礼盒", kind="goods", valid_days="", store_ids=store)).status_code == 303


def test_saving_with_htmx_moves_the_address_to_the_product(hx, owner, org, goods_api, db):
    response = hx.login_as(owner).post_form("/catalog/new", dict(FORM, store_ids=str(org.stores[0].id)))
    product = db.session.scalar(select(Product).where(Product.name == "双人套餐"))
    assert response.headers["HX-Redirect"] == f"/catalog/{product.id}"


def test_uploaded_pictures_are_kept_served_publicly_and_sent_to_douyin_absolute(app, client, owner, org, goods_api, db, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.com")
    data = dict(FORM, store_ids=str(org.stores[0].id), image_files=[(io.BytesIO(png()), "cover.png"), (io.BytesIO(png(60, 60)), "menu.png")])
    response = client.login_as(owner).post_form("/catalog/new", data, content_type="multipart/form-data")
    assert response.status_code == 303
    product = db.session.scalar(select(Product).where(Product.name == "双人套餐"))
    assert len(product.images) == 2 and all(url.startswith(f"/catalog/images/{org.id}/") for url in product.images)
    client.get("/logout")
    served = client.application.test_client().get(product.images[0])  # no sign-in: Douyin fetches it
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == png()
    body, _sku = service.douyin_payload(product)
    sent = json.loads(body["attr_key_value_map"]["image_list"])
    assert sent == [{"url": "https://portal.example.com" + url} for url in product.images]
    page = html(client.login_as(owner).get(f"/catalog/{product.id}/edit"))
    assert len(page.select("#catalog-current-images img")) == 2


def test_a_file_that_is_not_a_picture_is_a_422_and_nothing_is_kept(app, client, owner, org, goods_api, db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.com")
    data = dict(FORM, store_ids=str(org.stores[0].id), image_files=[(io.BytesIO(b"%PDF-1.4 not a picture"), "menu.png")])
    response = client.login_as(owner).post_form("/catalog/new", data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert html(response).select_one("#image_files-error").get_text() == "menu.png 不是 JPG 或 PNG 图片"
    assert db.session.scalar(select(Product).where(Product.name == "双人套餐")) is None


def test_a_picture_address_that_was_never_stored_is_404(client, org):
    assert client.get(f"/catalog/images/{org.id}/{'0' * 32}.png").status_code == 404
    assert client.get(f"/catalog/images/{org.id}/..%2Fsecret_key").status_code == 404


def test_oversize_picture_is_refused_with_its_size():
    try:
        images.inspect(b"x" * (images.MAX_BYTES + 1), "big.jpg")
    except images.ImageInvalid as error:
        assert "big.jpg 超过 5MB" in str(error)
    else:
        raise AssertionError("accepted")
