"""Status rules, money, publishing through the outbox, pausing, review results by webhook."""

import json

import pytest
from sqlalchemy import select

from portal import outbox, signals
from portal.catalog import service
from portal.catalog.forms import YuanField
from portal.catalog.models import Product, ReviewStatus
from portal.money import MoneyError, parse_yuan
from portal.notifications import Notification


@pytest.mark.parametrize("text, fen", [("99", 9900), ("99.9", 9990), ("99.00", 9900), ("¥0.01", 1), ("1,299.50", 129950)])
def test_yuan_input_becomes_integer_fen(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "9.999", "-1", "abc", "0", "1e3"])
def test_bad_yuan_input_is_refused(text):
    with pytest.raises(MoneyError):
        parse_yuan(text)


def test_buyable_needs_both_online_approved_and_not_paused(catalog, owner):
    product = catalog.approved(actor=owner)
    assert product.buyable
    for field, value in (("local_online", False), ("douyin_online", False), ("review_status", ReviewStatus.REVIEWING)):
        old = getattr(product, field)
        setattr(product, field, value)
        assert not product.buyable
        setattr(product, field, old)
    service.pause_product(product, "核销异常")
    assert not product.buyable
    assert "已被规则暂停" in service.not_buyable_reasons(product)


def test_price_above_original_is_refused_on_the_price_field(catalog, owner):
    with pytest.raises(service.CatalogError) as error:
        catalog.product(owner, price_fen=20000, original_price_fen=10000)
    assert error.value.field == "price"


def test_count_card_needs_several_uses(catalog, owner):
    with pytest.raises(service.CatalogError) as error:
        catalog.product(owner, kind="count_card", uses=1)
    assert error.value.field == "uses"
    card = catalog.product(owner, kind="count_card", uses=10)
    body, sku = service.douyin_payload(card)
    commodity = json.loads(sku["attr_key_value_map"]["commodity"])
    assert body["product_type"] == 1 and commodity[0]["item_list"][0]["count"] == 10
    assert commodity[0]["item_list"][0]["unit"] == "次"


def test_payload_has_the_reference_shape(catalog, owner):
    product = catalog.product(owner, description="两人份", usage_rules="周末可用", images=["https://img.test/a.png"], valid_days=30)
    body, sku = service.douyin_payload(product)
    assert body["biz_line"] == 1 and body["category_id"] == 1001000
    attrs = body["attr_key_value_map"]
    assert all(isinstance(v, str) for v in attrs.values())
    assert json.loads(attrs["use_date"]) == {"use_date_type": 2, "day_duration": 30}
    assert json.loads(attrs["image_list"]) == [{"url": "https://img.test/a.png"}]
    assert json.loads(attrs["description_rich_text"])[0]["content"] == "两人份"
    assert json.loads(attrs["Notification"])[0]["content"] == "周末可用"
    assert sku["attr_key_value_map"] == {"code_source_type": "2"}


def test_attrs_a_category_template_does_not_list_are_not_sent(catalog, owner):
    body, sku = service.douyin_payload(catalog.product(owner, description="两人份"))
    template = {"product_attrs": [{"key": "use_date"}], "sku_attrs": []}
    body, sku = service.fit_to_template(body, sku, template)
    assert list(body["attr_key_value_map"]) == ["use_date"] and sku["attr_key_value_map"] == {}


def test_submit_sets_reviewing_and_queues_one_save(db, catalog, owner, goods_api):
    product = catalog.product(owner)
    service.submit_product(product, actor=owner)
    assert product.review_status == ReviewStatus.REVIEWING
    message = db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.SAVE_KIND))
    assert message.payload["product"]["product_name"] == product.name
    assert message.payload["sku"]["actual_amount"] == 9900
    with pytest.raises(service.CatalogError, match="审核中"):
        service.submit_product(product, actor=owner)


def test_submit_needs_a_store_bound_to_a_douyin_poi(catalog, owner, org, connected):
    product = catalog.product(owner)
    assert org.stores[0].douyin_poi_id is None
    with pytest.raises(service.CatalogError) as error:
        service.submit_product(product, actor=owner)
    assert error.value.field == "store_ids"


def test_save_delivery_records_the_douyin_product_id(db, catalog, owner, goods_api):
    product = catalog.product(owner)
    service.submit_product(product, actor=owner)
    message = db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.SAVE_KIND))
    assert outbox.deliver(message.id) == "delivered"
    assert product.douyin_product_id in goods_api.products
    assert goods_api.saved[0]["product"]["out_id"] == product.out_id


def test_douyin_outage_keeps_the_submission_pending_and_visible(db, catalog, owner, connected, org):
    import responses

    for n, store in enumerate(org.stores):
        store.douyin_poi_id = f"poi-out-{n}"
    product = catalog.product(owner)
    service.submit_product(product, actor=owner)
    message = db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.SAVE_KIND))
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
        mock.add(responses.GET, "http://douyin.test/goodlife/v1/goods/template/get/",
                 json={"data": {"product_attrs": [{"key": "use_date"}], "sku_attrs": [], "error_code": 0, "description": ""}, "extra": {"error_code": 0}})
        mock.add(responses.POST, "http://douyin.test/goodlife/v1/goods/product/save/", status=503, json={})
        import portal.douyin.client as client_module

        original = client_module.DouyinClient.__init__

        def fast(self, *args, **kwargs):
            kwargs["sleep"] = lambda s: None
            original(self, *args, **kwargs)

        client_module.DouyinClient.__init__ = fast
        try:
            assert outbox.deliver(message.id) == "pending"
        finally:
            client_module.DouyinClient.__init__ = original
    assert "503" in message.last_error
    assert [m.id for m in service.deliveries(org.id, product.id)] == [message.id]
    assert service.undelivered(org.id, [product.id]) == {product.id: ["pending"]}
    message.status = "delivered"
    db.session.flush()
    assert service.undelivered(org.id, [product.id]) == {} and [m.id for m in service.deliveries(org.id, product.id)] == [message.id]


def test_pause_takes_it_offline_on_douyin_and_signals_once(db, catalog, owner):
    product = catalog.approved(actor=owner)
    received = []

    def receiver(sender, **kwargs):
        received.append((sender.id, kwargs["reason"]))

    signals.product_paused.connect(receiver)
    try:
        service.pause_product(product, "同一手机号多次核销", owner)
        service.pause_product(product, "again", owner)
    finally:
        signals.product_paused.disconnect(receiver)
    assert received == [(product.id, "同一手机号多次核销")]
    assert product.paused_reason == "同一手机号多次核销"
    ops = list(db.session.scalars(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.OPERATE_KIND)))
    assert [m.payload["online"] for m in ops] == [False]


def test_resume_puts_it_back_online_on_douyin(db, catalog, owner, goods_api):
    product = catalog.approved(goods_api, actor=owner)
    service.pause_product(product, "异常", owner)
    service.resume_product(product, owner)
    assert product.paused_at is None
    ops = list(db.session.scalars(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.OPERATE_KIND).order_by(outbox.OutboxMessage.id)))
    assert [m.payload["online"] for m in ops] == [False, True]
    for m in ops:
        outbox.deliver(m.id)
    assert [o["op_type"] for o in goods_api.operated] == [2, 1]
    assert product.douyin_online is True


def test_stale_online_delivery_is_skipped_after_a_pause(db, catalog, owner, goods_api):
    product = catalog.approved(goods_api, actor=owner)
    service.set_online(product, False, actor=owner)
    service.set_online(product, True, actor=owner)
    service.pause_product(product, "异常", owner)
    ops = list(db.session.scalars(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.OPERATE_KIND).order_by(outbox.OutboxMessage.id)))
    for m in ops:
        outbox.deliver(m.id)
    assert [o["op_type"] for o in goods_api.operated] == [2, 2]
    assert product.douyin_online is False


def test_going_online_while_paused_is_refused(catalog, owner):
    product = catalog.approved(actor=owner)
    product.local_online = False
    service.pause_product(product, "异常", owner)
    with pytest.raises(service.CatalogError, match="暂停"):
        service.set_online(product, True, actor=owner)


def test_copy_is_an_offline_draft_with_the_same_content(catalog, owner):
    product = catalog.approved(actor=owner)
    copy = service.copy_product(product, actor=owner)
    assert copy.id != product.id and copy.out_id != product.out_id
    assert copy.review_status == ReviewStatus.DRAFT and not copy.local_online and copy.douyin_product_id is None
    assert copy.price_fen == product.price_fen and [s.id for s in copy.stores] == [s.id for s in product.stores]
    assert copy.name.endswith("（副本）")


def test_delist_takes_it_off_douyin(db, catalog, owner):
    product = catalog.approved(actor=owner)
    service.delist_product(product, actor=owner)
    assert product.delisted_at is not None and not product.buyable
    assert db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.OPERATE_KIND)).payload["online"] is False


def _submitted(db, catalog, owner, goods_api):
    product = catalog.product(owner)
    service.submit_product(product, actor=owner)
    message = db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.SAVE_KIND))
    outbox.deliver(message.id)
    db.session.commit()
    return product


def test_audit_webhook_approves_once_and_notifies_once(db, catalog, owner, goods_api, connected, queue):
    product = _submitted(db, catalog, owner, goods_api)
    content = {"product_id": product.douyin_product_id, "out_id": product.out_id, "status": "PASS", "reason": ""}
    assert connected.goodlife_webhook("life_product_audit", content, msg_id="m1").status_code == 200
    assert connected.goodlife_webhook("life_product_audit", content, msg_id="m2").status_code == 200
    queue.run()
    db.session.refresh(product)
    assert product.review_status == ReviewStatus.APPROVED
    notes = list(db.session.scalars(select(Notification).where(Notification.kind == "product_review")))
    assert len(notes) == 1 and product.name in notes[0].title


def test_audit_webhook_reject_keeps_douyins_reason(db, catalog, owner, goods_api, connected, queue):
    product = _submitted(db, catalog, owner, goods_api)
    connected.goodlife_webhook("life_product_audit", {"product_id": product.douyin_product_id, "out_id": product.out_id, "status": "REJECT", "reason": "图片不清晰"})
    queue.run()
    db.session.refresh(product)
    assert product.review_status == ReviewStatus.REJECTED and product.review_reason == "图片不清晰"
    note = db.session.scalar(select(Notification).where(Notification.kind == "product_review"))
    assert "图片不清晰" in note.body


def test_webhook_after_sync_changes_nothing(db, catalog, owner, goods_api, no_sleep):
    from portal.catalog import sync

    product = _submitted(db, catalog, owner, goods_api)
    goods_api.approve(product.douyin_product_id)
    run, _ = sync.start_sync_run(product.organization_id, actor=owner)
    sync.run_sync(run.id)
    assert product.review_status == ReviewStatus.APPROVED
    assert not service.apply_audit_webhook(product.organization_id, {"product_id": product.douyin_product_id, "status": "REJECT", "reason": "late"})
    assert product.review_status == ReviewStatus.APPROVED
    assert len(list(db.session.scalars(select(Notification).where(Notification.kind == "product_review")))) == 1


def test_webhook_for_another_merchants_product_changes_nothing(db, catalog, owner, accounts):
    product = catalog.product(owner)
    product.review_status = ReviewStatus.REVIEWING
    product.douyin_product_id = "777"
    other = accounts.org("别家")
    assert not service.apply_audit_webhook(other.id, {"product_id": "777", "status": "PASS"})
    assert product.review_status == ReviewStatus.REVIEWING


def test_list_is_keyset_paged_and_filtered(db, catalog, owner, org):
    made = [catalog.product(owner, name=f"商品{i:02d}") for i in range(7)]
    made[3].review_status = ReviewStatus.REJECTED
    db.session.flush()
    first = service.list_products(org.id, None, service.Filters(), limit=3)
    assert [p.id for p in first.products] == [p.id for p in reversed(made)][:3] and first.total == 7
    second = service.list_products(org.id, None, service.Filters(), before=first.next_before, limit=3)
    assert [p.id for p in second.products] == [p.id for p in reversed(made)][3:6] and second.total == 7
    last = service.list_products(org.id, None, service.Filters(), before=second.next_before, limit=3)
    assert [p.id for p in last.products] == [made[0].id] and last.total == 7 and last.next_before is None
    back = service.list_products(org.id, None, service.Filters(), after=second.prev_after, limit=3)
    assert [p.id for p in back.products] == [p.id for p in first.products]
    rejected = service.list_products(org.id, None, service.Filters(review="rejected"))
    assert [p.id for p in rejected.products] == [made[3].id] and rejected.total == 1
    assert [p.id for p in service.list_products(org.id, None, service.Filters(q="商品05")).products] == [made[5].id]
    # Same filters set, other values: the statements are shared, the rows are not.
    assert [p.id for p in service.list_products(org.id, None, service.Filters(q="商品02")).products] == [made[2].id]
    assert made[3].id not in [p.id for p in service.list_products(org.id, None, service.Filters(review="draft")).products]


def test_store_scoped_view_sees_only_products_of_its_stores(db, catalog, owner, org):
    here = catalog.product(owner, store_ids=[org.stores[0].id])
    there = catalog.product(owner, store_ids=[org.stores[1].id])
    stmt = service.visible(select(Product).where(Product.organization_id == org.id), frozenset({org.stores[1].id}))
    assert [p.id for p in db.session.scalars(stmt)] == [there.id]
    assert here.id not in [p.id for p in db.session.scalars(stmt)]
    listed = service.list_products(org.id, frozenset({org.stores[1].id}), service.Filters())
    assert [p.id for p in listed.products] == [there.id] and listed.total == 1
    assert [p.id for p in service.list_products(org.id, frozenset({org.stores[0].id}), service.Filters()).products] == [here.id]


def test_yuan_field_errors_in_chinese(app):
    from wtforms import Form

    class F(Form):
        price = YuanField("price")

    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        form = F(MultiDict({"price": "12.345"}))
        assert not form.validate()
        assert "最多两位小数" in form.price.errors[0]
        form = F(MultiDict({"price": "12.34"}))
        assert form.validate() and form.price.fen == 1234


def test_submit_needs_douyin_connected_before_anything_else(catalog, owner, org):
    product = catalog.product(owner, category_id=None)
    with pytest.raises(service.NotConnectedError, match="尚未连接抖音推广"):
        service.submit_product(product, actor=owner)
    assert product.review_status != ReviewStatus.REVIEWING
