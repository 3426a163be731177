"""商品库 pages: tenancy, roles, forms (422 next to the field), actions, the polling sync partial."""

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.accounts.models import Role
from portal.catalog import service, sync
from portal.catalog.models import Product, ReviewStatus, SyncStatus


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


FORM = {"kind": "groupon", "name": "双人套餐", "original_price": "128", "price": "99.00", "stock": "10", "uses": "1", "valid_days": "90", "category_id": "1001000"}


def test_anonymous_is_sent_to_login(client, catalog, owner):
    product = catalog.product(owner)
    for path in ("/catalog/", f"/catalog/{product.id}", "/catalog/new", "/catalog/sync/"):
        assert client.get(path).status_code == 302


def test_list_shows_both_statuses_and_whether_customers_can_buy(client, owner, catalog, db):
    sellable = catalog.approved(actor=owner, name="可以买的")
    draft = catalog.product(owner, name="草稿")
    db.session.commit()
    page = html(client.login_as(owner).get("/catalog/"))
    row = page.select_one(f"#catalog-product-{sellable.id}")
    assert row.select_one("[data-buyable]")["data-buyable"] == "yes"
    assert "上架" in row.select_one("[data-col=douyin]").get_text()
    assert page.select_one(f"#catalog-product-{draft.id} [data-buyable]")["data-buyable"] == "no"
    assert "共 2 个商品" in page.select_one("#catalog-total").get_text()


def test_filters_and_htmx_partial(hx, owner, catalog, db):
    catalog.product(owner, name="代金券A", kind="voucher")
    catalog.product(owner, name="火锅B")
    db.session.commit()
    response = hx.login_as(owner).get("/catalog/?kind=voucher")
    page = html(response)
    assert page.select_one("#catalog-product-rows") is not None and page.select_one("#catalog-filters") is None
    assert [a.get_text() for a in page.select("#catalog-products tbody a")] == ["代金券A"]
    assert "HX-Request" in response.headers["Vary"]


def test_list_pages_with_a_next_link(client, owner, catalog, db):
    for i in range(55):
        catalog.product(owner, name=f"商品{i}")
    db.session.commit()
    page = html(client.login_as(owner).get("/catalog/"))
    assert len(page.select("#catalog-products tbody tr")) == 50
    second = html(client.get(page.select_one("#catalog-next")["href"]))
    assert len(second.select("#catalog-products tbody tr")) == 5 and second.select_one("#catalog-prev")


def test_store_manager_sees_only_products_of_their_store(client, manager, owner, catalog, org, db):
    mine = catalog.product(owner, store_ids=[org.stores[0].id], name="本店的")
    other = catalog.product(owner, store_ids=[org.stores[1].id], name="别店的")
    db.session.commit()
    client.login_as(manager)
    names = [a.get_text() for a in html(client.get("/catalog/")).select("#catalog-products tbody a")]
    assert names == ["本店的"]
    assert client.get(f"/catalog/{other.id}").status_code == 404
    assert client.get(f"/catalog/{mine.id}").status_code == 200
    assert client.post_form("/catalog/sync").status_code == 403


def test_a_product_shared_with_another_store_is_shown_to_a_manager_without_buttons_they_cannot_use(client, manager, owner, catalog, org, db):
    shared = catalog.product(owner, store_ids=[s.id for s in org.stores], name="两店通用")
    db.session.commit()
    client.login_as(manager)
    page = html(client.get(f"/catalog/{shared.id}"))
    assert page.select_one("#catalog-actions") is None and page.select_one("#catalog-submit") is None
    assert "只有店主或总部管理员可以修改" in page.select_one("#catalog-not-editable").get_text()
    row = html(client.get("/catalog/")).select_one(f"#catalog-product-{shared.id}")
    button = row.select_one("form button")
    assert button.has_attr("disabled") and button["title"] == "也在其他门店售卖，由总部修改"
    client.login_as(owner)
    assert html(client.get(f"/catalog/{shared.id}")).select_one("#catalog-actions") is not None


def test_clerk_is_forbidden(client, clerk):
    assert client.login_as(clerk).get("/catalog/").status_code == 403


def test_another_tenants_product_is_not_found(client, accounts, catalog, owner, db):
    product = catalog.product(owner)
    other_owner = accounts.user(Role.OWNER, accounts.org("别家"))
    db.session.commit()
    client.login_as(other_owner)
    assert client.get(f"/catalog/{product.id}").status_code == 404
    assert client.post_form(f"/catalog/{product.id}/submit").status_code == 404


def test_create_product_stores_fen_and_redirects(client, owner, org, goods_api, db):
    response = client.login_as(owner).post_form("/catalog/new", dict(FORM, store_ids=str(org.stores[0].id)))
    assert response.status_code == 303
    product = db.session.scalar(select(Product).where(Product.name == "双人套餐"))
    assert (product.price_fen, product.original_price_fen) == (9900, 12800)
    assert product.category_name == "美食 / 火锅"
    assert response.headers["Location"].endswith(f"/catalog/{product.id}")
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(strip=True)
    assert said == "商品已保存为草稿。提交审核并通过后，顾客才能在抖音上看到它。"


def test_bad_money_is_a_422_with_the_error_next_to_the_field(client, owner, org, goods_api, db):
    response = client.login_as(owner).post_form("/catalog/new", dict(FORM, price="99.999", store_ids=str(org.stores[0].id)))
    assert response.status_code == 422
    assert "最多两位小数" in html(response).select_one("#field-price .form-error").get_text()
    assert db.session.scalar(select(Product).where(Product.name == "双人套餐")) is None


def test_price_above_original_is_a_422_on_price(hx, owner, org, goods_api, db):
    response = hx.login_as(owner).post_form("/catalog/new", dict(FORM, price="200", store_ids=str(org.stores[0].id)))
    assert response.status_code == 422
    page = html(response)
    assert page.select_one("#catalog-product-form") is not None
    assert "售价不能高于原价" in page.select_one("#field-price .form-error").get_text()


def test_douyin_down_shows_a_clear_message_instead_of_categories(client, owner, connected, db):
    import responses

    service._category_cache.clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "http://douyin.test/oauth/client_token/", status=503, json={})
        response = client.login_as(owner).get("/catalog/new")
    assert response.status_code == 200
    assert "抖音" in html(response).select_one("#catalog-category-error").get_text()


def test_manager_cannot_create_for_another_store(client, manager, org, goods_api, db):
    response = client.login_as(manager).post_form("/catalog/new", dict(FORM, store_ids=str(org.stores[1].id)))
    assert response.status_code == 404


def test_submit_from_the_page(client, owner, catalog, goods_api, db):
    product = catalog.product(owner)
    db.session.commit()
    response = client.login_as(owner).post_form(f"/catalog/{product.id}/submit")
    assert response.status_code == 303
    db.session.refresh(product)
    assert product.review_status == ReviewStatus.REVIEWING
    page = html(client.get(f"/catalog/{product.id}"))
    assert page.select_one("#catalog-deliveries [data-status=pending]") is not None
    assert page.select_one(".alert-success").get_text(strip=True) == "已提交抖音审核。审核结果出来后会通知您，通过后即可上架。"


def test_submit_without_poi_is_a_422_with_the_reason(client, owner, catalog, connected, db):
    product = catalog.product(owner)
    db.session.commit()
    response = client.login_as(owner).post_form(f"/catalog/{product.id}/submit")
    assert response.status_code == 422
    assert "POI" in html(response).select_one("#catalog-action-error").get_text()


def test_toggle_online_from_the_list_swaps_the_row(hx, owner, catalog, db):
    product = catalog.approved(actor=owner)
    db.session.commit()
    response = hx.login_as(owner).post_form(f"/catalog/{product.id}/online", {"online": "0"}, headers={"HX-Target": f"catalog-product-{product.id}"})
    assert response.status_code == 200
    row = html(response).select_one(f"#catalog-product-{product.id}")
    assert row.select_one("[data-buyable]")["data-buyable"] == "no"
    db.session.refresh(product)
    assert product.local_online is False


def test_only_the_owner_side_can_resume_a_paused_product(client, owner, manager, catalog, db):
    product = catalog.approved(actor=owner)
    service.pause_product(product, "核销异常")
    db.session.commit()
    assert client.login_as(manager).post_form(f"/catalog/{product.id}/resume").status_code == 403
    page = html(client.login_as(owner).get(f"/catalog/{product.id}"))
    assert "核销异常" in page.select_one("#catalog-paused").get_text()
    assert client.post_form(f"/catalog/{product.id}/resume").status_code == 303
    db.session.refresh(product)
    assert product.paused_at is None and product.buyable


def test_conflict_page_shows_both_versions_and_the_choice_applies(client, owner, catalog, goods_api, no_sleep, org, db):
    product = catalog.approved(goods_api, actor=owner)
    service.update_product(product, catalog.data(price_fen=9500), actor=owner)
    goods_api.change(product.douyin_product_id, price=8800)
    sync.run_sync(sync.start_sync_run(org.id, actor=owner)[0].id)
    db.session.commit()
    client.login_as(owner)
    page = html(client.get(f"/catalog/{product.id}"))
    row = page.select_one("#catalog-conflict-table tr[data-field=price_fen]")
    assert "95.00" in row.select_one("[data-side=local]").get_text() and "88.00" in row.select_one("[data-side=douyin]").get_text()
    assert client.post_form(f"/catalog/{product.id}/conflict", {"choice": "bogus"}).status_code == 422
    assert client.post_form(f"/catalog/{product.id}/conflict", {"choice": "douyin"}).status_code == 303
    db.session.refresh(product)
    assert product.price_fen == 8800
    assert html(client.get("/catalog/?conflict=1")).select_one("#catalog-empty") is not None


def test_refresh_list_polls_while_running_and_stops_when_done(hx, owner, org, goods_api, catalog, queue, no_sleep, db):
    catalog.approved(goods_api, actor=owner)
    db.session.commit()
    hx.login_as(owner)
    response = hx.post_form("/catalog/sync")
    status = html(response).select_one("#catalog-sync-status")
    assert status["data-status"] == "queued" and status["hx-trigger"] == "every 2s"
    again = html(hx.post_form("/catalog/sync")).select_one("#catalog-sync-status")
    assert again["hx-get"] == status["hx-get"]  # the same run
    queue.run()
    done = hx.get(status["hx-get"])
    finished = html(done).select_one("#catalog-sync-status")
    assert finished["data-status"] == "succeeded" and not finished.has_attr("hx-trigger")
    assert "catalog-synced" in done.headers["HX-Trigger"]


def test_run_page_lists_changes_and_history_counts(client, owner, org, goods_api, catalog, no_sleep, db):
    product = catalog.approved(goods_api, actor=owner)
    goods_api.change(product.douyin_product_id, price=8800)
    run = sync.run_sync(sync.start_sync_run(org.id, actor=owner)[0].id)
    db.session.commit()
    client.login_as(owner)
    page = html(client.get(f"/catalog/sync/{run.id}"))
    assert page.select_one("[data-action=updated]") is not None and "88.00" in page.select_one("#catalog-sync-changes").get_text()
    history = html(client.get("/catalog/sync/"))
    assert history.select_one(f"#catalog-run-{run.id}")["data-status"] == SyncStatus.SUCCEEDED


def test_another_tenants_run_is_not_found(client, accounts, owner, org, db):
    run, _ = sync.start_sync_run(org.id, actor=owner)
    other_owner = accounts.user(Role.OWNER, accounts.org("别家"))
    db.session.commit()
    assert client.login_as(other_owner).get(f"/catalog/sync/{run.id}").status_code == 404


def test_list_labels_follow_each_users_language(client, owner, catalog, accounts, org, db):
    from portal.accounts.models import Role

    catalog.product(owner, name="双人套餐", store_ids=[org.stores[0].id])
    english = accounts.user(Role.OWNER, org)
    english.locale = "en"
    db.session.commit()
    chinese_page = html(client.login_as(owner).get("/catalog/"))  # the labels are built in Chinese first
    row = chinese_page.select_one("#catalog-products tbody tr")
    assert "团购套餐" in row.get_text() and org.stores[0].name in row.get_text()
    english_page = html(client.login_as(english).get("/catalog/"))
    row = english_page.select_one("#catalog-products tbody tr")
    assert "Group-buy package" in row.get_text() and "团购套餐" not in row.get_text()
    assert row.select_one("[data-buyable]").get_text() in ("Buyable", "Not buyable")


def test_failed_refresh_offers_no_empty_change_list_and_counts_read_well_in_english(hx, owner, org, queue, db):
    hx.login_as(owner)  # Douyin is not connected
    hx.post_form("/account/locale", {"locale": "en"})
    status = html(hx.post_form("/catalog/sync")).select_one("#catalog-sync-status")
    queue.run()
    failed = html(hx.get(status["hx-get"])).select_one("#catalog-sync-status")
    assert failed["data-status"] == "failed"
    assert failed.select_one("#catalog-sync-details") is None
    text = failed.get_text(" ", strip=True)
    assert "errors: 1" in text and "1 errors" not in text


def test_finished_refresh_links_to_its_changes(hx, owner, org, goods_api, catalog, queue, no_sleep, db):
    catalog.approved(goods_api, actor=owner)
    db.session.commit()
    status = html(hx.login_as(owner).post_form("/catalog/sync")).select_one("#catalog-sync-status")
    queue.run()
    assert html(hx.get(status["hx-get"])).select_one("#catalog-sync-details") is not None


def test_submit_when_douyin_is_not_connected_says_so_and_links_to_setup(client, owner, manager, catalog, org, db):
    product = catalog.product(owner, category_id=None, store_ids=[org.stores[0].id])
    db.session.commit()
    response = client.login_as(owner).post_form(f"/catalog/{product.id}/submit")
    assert response.status_code == 422
    error = html(response).select_one("#catalog-action-error")
    assert "尚未连接抖音推广" in error.get_text() and "类目" not in error.get_text()
    assert error.select_one("#catalog-connect-link")["href"] == "/onboarding/"
    db.session.refresh(product)
    assert product.review_status == ReviewStatus.DRAFT
    as_manager = html(client.login_as(manager).post_form(f"/catalog/{product.id}/submit")).select_one("#catalog-action-error")
    assert "尚未连接抖音推广" in as_manager.get_text() and as_manager.select_one("#catalog-connect-link") is None


def test_not_connected_and_punctuation_read_well_in_english(app, client, owner, catalog, org, db):
    product = catalog.product(owner, store_ids=[org.stores[0].id])
    with app.test_request_context("/", query_string={"lang": "en"}):  # stored in Chinese whoever runs it
        run = sync.run_sync(sync.start_sync_run(org.id, actor=owner)[0].id)
    db.session.commit()
    assert run.last_error == "尚未开通抖音推广"
    client.login_as(owner)
    assert html(client.get(f"/catalog/{product.id}")).select_one("#catalog-not-buyable").get_text().startswith("暂不可购买：")
    assert "；" in html(client.get(f"/catalog/{product.id}")).select_one("#catalog-not-buyable").get_text()
    assert "尚未开通抖音推广" in html(client.get("/catalog/sync/")).select_one(f"#catalog-run-{run.id}").get_text()
    assert "尚未连接抖音（尚未开通抖音推广）" in html(client.get("/catalog/new")).select_one("#catalog-category-error").get_text()
    owner.locale = "en"
    db.session.commit()
    reasons = html(client.get(f"/catalog/{product.id}")).select_one("#catalog-not-buyable").get_text()
    assert reasons.startswith("Not buyable now: ") and "; " in reasons and "；" not in reasons
    row = html(client.get("/catalog/sync/")).select_one(f"#catalog-run-{run.id}").get_text()
    assert "Douyin promotion not switched on yet" in row and "尚未" not in row
    error = html(client.get("/catalog/new")).select_one("#catalog-category-error").get_text()
    assert "(Douyin promotion not switched on yet)" in error and "尚未" not in error


def test_failed_refresh_box_reads_well_in_english(hx, owner, org, queue, db):
    hx.login_as(owner)  # Douyin is not connected
    status = html(hx.post_form("/catalog/sync")).select_one("#catalog-sync-status")
    queue.run()
    chinese = html(hx.get(status["hx-get"])).select_one("#catalog-sync-status")
    assert chinese.select_one("strong").get_text().endswith("：失败") and "错误：尚未开通抖音推广" in chinese.get_text()
    hx.post_form("/account/locale", {"locale": "en"})
    failed = html(hx.get(status["hx-get"])).select_one("#catalog-sync-status")
    assert failed.select_one("strong").get_text().endswith(": Failed") and "Refresh list #" in failed.select_one("strong").get_text()
    assert failed.select_one("#catalog-sync-error").get_text() == "Error: Douyin promotion not switched on yet"


def test_a_fractional_or_blank_whole_number_gets_one_clear_message(client, owner, org, goods_api, db):
    client.login_as(owner)
    store = str(org.stores[0].id)
    response = client.post_form("/catalog/new", dict(FORM, kind="count_card", stock="1.5", uses="abc", valid_days="90", store_ids=store))
    assert response.status_code == 422
    page = html(response)
    assert [e.get_text() for e in page.select("#field-stock .form-error")] == ["库存应为 0 或正整数"]
    assert [e.get_text() for e in page.select("#field-uses .form-error")] == ["次数应在 1 到 100 之间"]
    blank = html(client.post_form("/catalog/new", dict(FORM, stock="", uses="", store_ids=store)))
    assert [e.get_text() for e in blank.select("#field-stock .form-error")] == ["请输入库存"]
    assert blank.select("#field-uses .form-error") == []  # optional
    assert db.session.scalar(select(Product).where(Product.name == "双人套餐")) is None


def test_product_page_badges_follow_the_language_switch(client, owner, catalog, db):
    product = catalog.product(owner)
    db.session.commit()
    client.login_as(owner).get(f"/catalog/{product.id}")  # first rendered in Chinese
    client.post_form("/account/locale", {"locale": "en"})
    page = html(client.get(f"/catalog/{product.id}"))
    assert page.select_one("#catalog-local-online").get_text(strip=True) == "Online"
    assert page.select_one("#catalog-buyable").get_text(strip=True) == "Not buyable"


def test_a_price_past_32_bits_is_stored_and_odd_digits_are_a_422(client, owner, org, goods_api, db):
    store = str(org.stores[0].id)
    response = client.login_as(owner).post_form("/catalog/new", dict(FORM, original_price="30,000,000.00", price="25000000.01", store_ids=store))
    assert response.status_code == 303
    product = db.session.scalar(select(Product).where(Product.name == "双人套餐"))
    assert (product.price_fen, product.original_price_fen) == (2_500_000_001, 3_000_000_000)
    for odd in ("٣", "1,0.5", "1,00"):
        response = client.post_form("/catalog/new", dict(FORM, name=f"怪价{odd}", price=odd, store_ids=store))
        assert response.status_code == 422
        assert "金额格式不正确" in html(response).select_one("#field-price .form-error").get_text()


def test_ids_and_cursors_past_the_columns_are_404s(client, owner, org, db):
    client.login_as(owner)
    for url in ("/catalog/99999999999999999999", "/catalog/?before=99999999999999999999", "/catalog/?store=99999999999999999999"):
        assert client.get(url).status_code == 404, url
