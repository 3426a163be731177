"""Stored sentences (portal/messages.py): notices, refund reasons, journal notes and audit lines are
kept as message ids with values and read in the reader's language; typed text stays as typed."""

import re

from bs4 import BeautifulSoup
from flask_babel import force_locale
from sqlalchemy import select

from portal import clock as portal_clock
from portal import messages
from portal.audit import AuditEntry
from portal.i18n import lazy_gettext as _l
from portal.ledger import refunds, service
from portal.ledger.models import LedgerTransaction, RefundRequest, TxnKind
from portal.notifications import Notification, notify

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_a_lazy_string_is_stored_as_its_message_id_and_values():
    stored = messages.dump(_l("退款申请 %(amount)s：%(state)s", amount="¥99.00", state=_l("已自动同意")))
    assert stored == {"id": "退款申请 %(amount)s：%(state)s", "values": {"amount": "¥99.00", "state": {"id": "已自动同意", "values": {}}}}
    assert messages.dump("顾客自己写的") == "顾客自己写的"


def test_a_stored_message_reads_in_the_current_language(app):
    stored = messages.Message("提现 %(amount)s 已到账", amount="¥50.00").to_json()
    with app.test_request_context("/"):
        assert messages.render(stored) == "提现 ¥50.00 已到账"
    with app.test_request_context("/", query_string={"lang": "en"}):
        assert messages.render(stored) == "Withdrawal of ¥50.00 paid out"
        assert messages.in_language(stored, "zh_Hans") == "提现 ¥50.00 已到账"
        assert messages.render(None, "旧的文字") == "旧的文字"


def test_a_message_attribute_keeps_typed_text_as_typed(app, org, db):
    note = notify(org.id, "system", _l("订单已退款 %(amount)s", amount="¥1.00"), "顾客说：临时有事")
    db.session.flush()
    assert note.title_msg == {"id": "订单已退款 %(amount)s", "values": {"amount": "¥1.00"}} and note.title_literal == ""
    assert note.body_msg is None and note.body_literal == "顾客说：临时有事"
    with app.test_request_context("/", query_string={"lang": "en"}):
        assert note.title == "Order refunded ¥1.00" and note.body == "顾客说：临时有事"


def _day_of_messages(connected, orders, clock, db):
    """A refund decided by the policy from a Douyin preset reason, one a customer typed, a settled
    order with Douyin's adjustment, a failed withdrawal: notices, journal notes and audit lines."""
    org = connected.org
    order = orders.order(org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    lo = service.find_ledger_order(order.id)
    service.record_douyin_settlement(lo, settle_amount=lo.net_fen - 100, rake=300, commission=60, now=portal_clock.now())
    withdrawal = service.request_withdrawal(org.id, 1000, actor=None, now=portal_clock.now())
    service.apply_withdraw_status(withdrawal, {"status": "FAIL", "status_msg": ""}, now=portal_clock.now())
    fresh = orders.order(org, paid_fen=9900)
    preset = refunds.receive_request(org.id, {
        "refund_id": "rf-preset", "order_id": fresh.douyin_order_id, "refund_total_amount": 9900, "need_refund_audit": 1,
        "refund_reason": ["商家服务原因"]}, now=portal_clock.now())
    typed = refunds.receive_request(org.id, {
        "refund_id": "rf-typed", "order_id": fresh.douyin_order_id, "refund_total_amount": 100, "need_refund_audit": 1,
        "refund_reason": ["临时有事去不了"]}, now=portal_clock.now())
    db.session.flush()
    return preset, typed


def _pages(client):
    # Each notice's title and body, without its time.
    notices = [" ".join(div.get_text(" ", strip=True) for div in li.select(".me-auto > div")[:-1])
               for li in html(client.get("/settings/notifications/")).select("li[id^=settings-notification-]")]
    journal = html(client.get("/ledger/journal"))
    memos = [row.select("td")[-1] for row in journal.select("#ledger-journal-rows tr[data-kind]")
             if row["data-kind"] in (TxnKind.SETTLEMENT, TxnKind.SETTLEMENT_ADJUSTMENT, TxnKind.WITHDRAWAL_FAILED)]
    refund_rows = html(client.get("/ledger/refunds"))
    activity = html(client.get("/settings/audit")).select(
        "#settings-activity [data-code^='ledger.'] div:first-child")
    return {
        "notices": notices,
        "memos": sorted({m.get_text(" ", strip=True) for m in memos}),  # a row per posting
        "refunds": refund_rows,
        "activity": [a.get_text(" ", strip=True) for a in activity],
    }


def test_stored_notices_journal_notes_and_audit_lines_read_in_both_languages(client, owner, connected, orders, clock, db):
    preset, typed = _day_of_messages(connected, orders, clock, db)
    # Stored as ids and values, not as Chinese built when they were written.
    assert all(n.title_literal == "" and n.title_msg for n in db.session.scalars(select(Notification)))
    assert preset.customer_reason_msg == {"id": "商家服务原因", "values": {}} and preset.decision_reason_literal == ""
    assert typed.customer_reason_msg is None and typed.customer_reason_literal == "临时有事去不了"
    memos = {t.kind: t for t in db.session.scalars(select(LedgerTransaction))}
    assert memos[TxnKind.SETTLEMENT].memo_msg == {"id": "核销结算 %(count)s 笔订单", "values": {"count": 1}}
    received = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "ledger.refund.received")).first()
    assert received.payload["reason"]["id"].startswith("符合退款规则")
    client.login_as(owner)

    zh = _pages(client)
    assert len(zh["notices"]) == 3 and len(zh["memos"]) == 3 and len(zh["activity"]) >= 4
    assert any("提现 ¥10.00 失败，款项已退回可提现余额" in n for n in zh["notices"])
    assert any("退款申请 ¥99.00：已自动同意" in n for n in zh["notices"])
    assert "核销结算 1 笔订单" in zh["memos"] and any(m.startswith("抖音实际结算") for m in zh["memos"])
    assert zh["refunds"].select_one(f"#ledger-refund-{preset.id} .ledger-refund-reason").get_text(strip=True).startswith("符合退款规则")
    assert "商家服务原因" in zh["refunds"].select_one(f"#ledger-refund-{preset.id}").get_text()
    assert any("收到退款申请" in line and "符合退款规则" in line for line in zh["activity"])

    client.post_form("/account/locale", {"locale": "en"})
    en = _pages(client)
    for area in ("notices", "memos", "activity"):
        assert en[area] and not [text for text in en[area] if CJK.search(text)], (area, en[area])
    assert any("Withdrawal of ¥10.00 failed" in n for n in en["notices"])
    assert "Settlement of 1 redeemed orders" in en["memos"]
    preset_row = en["refunds"].select_one(f"#ledger-refund-{preset.id}")
    assert not CJK.search(preset_row.select_one(".ledger-refund-reason").get_text())
    assert "Merchant's service" in preset_row.get_text()
    # What the customer typed is theirs, in any language.
    assert "临时有事去不了" in en["refunds"].select_one(f"#ledger-refund-{typed.id}").get_text()


def test_a_rejection_sent_to_douyin_stays_chinese_for_the_customer(app, connected, orders, clock, db):
    from portal.outbox import OutboxMessage

    order = orders.order(connected.org, paid_fen=9900)
    with app.test_request_context("/", query_string={"lang": "en"}), force_locale("en"):
        refunds.receive_request(connected.org.id, {"refund_id": "rf-part", "order_id": order.douyin_order_id,
                                                   "refund_total_amount": 5000, "need_refund_audit": 1}, now=portal_clock.now())
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ledger.refund_audit")).one()
    assert sent.payload["deny_message"].startswith("仅支持整单退款")
    refund = db.session.scalars(select(RefundRequest)).one()
    with app.test_request_context("/", query_string={"lang": "en"}):
        assert not CJK.search(refund.decision_reason)


def _paused_by_the_rule(org, owner, clerk, shop, clock):
    """Two codes of a product fail at the wrong store, over a threshold of one: the rule pauses it."""
    from portal.redemption import rules
    from portal.redemption import service as counter

    rules.save_settings(org.id, max_failed_per_product_day=1, max_redemptions_per_phone_24h=3, actor=owner, now=clock.now())
    product = shop.product(org, stores=[org.stores[0]])
    for n in range(2):
        voucher = shop.paid(org, product).vouchers[0]
        counter.redeem(org.stores[1], voucher.code, nonce=f"wrong-store-{n}", actor=clerk, now=clock.now())
    return product


def test_a_paused_products_reason_reads_in_both_languages(app, client, db, org, owner, clerk, shop, clock):
    from portal.redemption.models import RuleEvent, RuleEventKind

    product = _paused_by_the_rule(org, owner, clerk, shop, clock)
    why = {"id": "今日 %(count)s 张券码核销失败，超过 %(limit)s 张的阈值，已自动暂停", "values": {"count": 2, "limit": 1}}
    assert product.paused_at is not None
    assert product.paused_reason_msg == why and product.paused_reason_literal == ""
    event = db.session.scalars(select(RuleEvent).where(RuleEvent.kind == RuleEventKind.PRODUCT_PAUSED)).one()
    assert event.detail_msg == why and event.detail_literal == ""
    paused = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "catalog.product.paused")).one()
    assert paused.payload["reason"] == why
    client.login_as(owner)

    def pages():
        rules_page = html(client.get("/counter/rules")).select_one(f"#redemption-paused-{product.id}").get_text(" ", strip=True)
        product_page = html(client.get(f"/catalog/{product.id}")).select_one("#catalog-paused").get_text(" ", strip=True)
        return rules_page, product_page

    assert all("今日 2 张券码核销失败，超过 1 张的阈值，已自动暂停" in text for text in pages())
    client.post_form("/account/locale", {"locale": "en"})
    for text in pages():
        assert "2 codes failed to redeem today, over the threshold of 1: paused automatically" in text and "今日" not in text
    assert messages.in_language(messages.stored(event, "detail"), "en") == "2 codes failed to redeem today, over the threshold of 1: paused automatically"


def test_a_held_redemptions_rule_event_keeps_the_buyers_phone_as_it_is(db, org):
    from portal.redemption.models import RuleEvent, RuleEventKind

    event = RuleEvent(organization_id=org.id, kind=RuleEventKind.REDEMPTION_HELD, detail="13900000000", at=portal_clock.now())
    db.session.add(event)
    db.session.flush()
    assert event.detail_msg is None and event.detail_literal == "13900000000" and event.detail == "13900000000"


def test_a_booking_refusal_reads_in_the_readers_language_and_stays_chinese_for_the_customer(app, client, db, org, owner, clock):
    from portal.settings import bookings

    store = org.stores[0]
    store.douyin_poi_id = "7000000000001"
    day = portal_clock.today_local()
    with app.test_request_context("/", query_string={"lang": "en"}):
        bookings.add_slot(store, starts="11:00", ends="13:00", capacity=1, actor=owner)
        made = [bookings.record_booking(org.id, douyin_booking_id=f"msg-b{n}", poi_id=store.douyin_poi_id, day=day, slot_label="11:00-13:00")[0]
                for n in range(2)]
        unknown = bookings.record_booking(org.id, douyin_booking_id="msg-b9", poi_id="nope", day=day, slot_label="11:00-13:00")[0]
        full = made[1]
        assert full.status == "refused" and full.refused_reason_literal == ""
        assert full.refused_reason_msg == {"id": "%(day)s %(label)s 已约满（可接 %(n)s 单）",
                                           "values": {"day": day.isoformat(), "label": "11:00-13:00", "n": 1}}
        assert full.refused_reason == f"{day.isoformat()} 11:00-13:00 is fully booked (1 bookings)"
        assert unknown.refused_reason == "No store matches Douyin store nope"
        # Douyin's customer reads Chinese, whoever is signed in to the portal.
        assert bookings.refusal_for_customer(full) == f"{day.isoformat()} 11:00-13:00 已约满（可接 1 单）"
        assert bookings.refusal_for_customer(unknown) == "未找到抖音门店 nope 对应的门店"
    db.session.flush()
    client.login_as(owner)

    def shown():
        page = html(client.get(f"/settings/bookings/?store_id={store.id}&day={day.isoformat()}"))
        return [span.get_text(strip=True) for span in page.select("span.text-danger")]

    assert any("已约满（可接 1 单）" in text for text in shown())
    client.post_form("/account/locale", {"locale": "en"})
    english = [text.strip("（）") for text in shown() if "booked" in text]
    assert english and not [text for text in english if CJK.search(text)]


def test_a_sync_runs_notes_read_in_both_languages(app, client, db, org, owner, goods_api, no_sleep):
    from portal.catalog import sync
    from portal.catalog.models import SyncChange

    goods_api.put(name="来客后台建的商品")
    run, _ = sync.start_sync_run(org.id, actor=owner)
    sync.run_sync(run.id)
    change = db.session.scalars(select(SyncChange).where(SyncChange.run_id == run.id)).one()
    assert change.message_msg == {"id": "抖音上有此商品，但商品库中没有对应商品", "values": {}} and change.message_literal == ""
    client.login_as(owner)
    assert "抖音上有此商品，但商品库中没有对应商品" in client.get(f"/catalog/sync/{run.id}").get_data(as_text=True)
    client.post_form("/account/locale", {"locale": "en"})
    english = html(client.get(f"/catalog/sync/{run.id}")).select_one("td div.text-muted:not(.small)").get_text(strip=True)
    assert english and not CJK.search(english)
    # The product's own name, as Douyin has it, is not ours to translate.
    assert change.name == "来客后台建的商品"


def test_an_english_reader_sees_our_withdrawal_refusal_not_the_generic_explanation(app, client, owner, connected, orders, clock, db):
    from portal import problems
    from portal.douyin import DouyinError

    order = orders.order(connected.org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    withdrawal = service.request_withdrawal(connected.org.id, 5000, actor=None, now=portal_clock.now())
    refusal = DouyinError(2100011, "可提现余额不足", "LOG77")
    service.finish_withdrawal(withdrawal, success=False, reason=service.withdrawal_refused_reason(refusal), now=portal_clock.now())
    db.session.flush()
    client.login_as(owner)
    client.post_form("/account/locale", {"locale": "en"})
    box = html(client.get(f"/ledger/withdrawals/{withdrawal.id}")).select_one("#ledger-withdrawal-failure")
    details = box.select_one(".problem-details").get_text()
    said = box.get_text().replace(details, "").strip()
    assert said.startswith("Douyin refused this withdrawal: 可提现余额不足. The money is back in the available balance")
    assert "[2100011]" not in said and "log_id" not in said
    assert "2100011" in details and "LOG77" in details
    # Douyin's own words stay Douyin's, however politely they are put: they are explained.
    with app.test_request_context("/", query_string={"lang": "en"}):
        explained = problems.explain("[2100099] Please contact the platform. log_id=L9")
        assert explained.summary != "Please contact the platform." and "Please contact the platform." in explained.summary


def test_an_error_of_ours_is_ours_by_its_type_and_douyins_is_explained():
    from portal import problems
    from portal.douyin import DouyinError
    from portal.errors import DomainError

    ours = DomainError("Douyin account not connected [2190002] log_id=L3")
    assert problems.explain_error(ours).summary == "Douyin account not connected"
    assert problems.explain_error(ours).details == "错误码 2190002 · log_id L3"
    theirs = problems.explain_error(DouyinError(2190002, "access_token 无效", "L3"))
    assert "AppSecret" in theirs.summary


def test_older_pause_booking_and_sync_texts_become_messages_and_downgrade_gives_them_back(database_url, tmp_path):
    """Migration 0016 on rows written before it: the portal's own sentences become message ids
    with values; a phone number stays as it is; downgrade writes the Chinese text back."""
    import sqlalchemy as sa
    from cryptography.fernet import Fernet
    from flask_migrate import downgrade, upgrade

    from portal import create_app
    from portal.extensions import db as _db
    from tests.fixtures.app import scratch_postgres

    def run(url):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                          "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "RQ_INPROCESS_WORKER": False})
        full = "2026-11-21 11:00-13:00 已约满（可接 2 单）"
        paused = "今日 6 张券码核销失败，超过 5 张的阈值，已自动暂停"
        synced = "上次同步后本地有修改，抖音上的版本也变了：请选择保留哪个版本"
        with app.app_context():
            upgrade(revision="0015")
            with _db.engine.begin() as connection:
                run_sql = connection.execute
                run_sql(sa.text("INSERT INTO organizations (id, name, edition, multi_store, created_at) VALUES (1, 'a', 'basic', true, '2026-11-20 00:00:00')"))
                booking = ("INSERT INTO bookings (id, organization_id, douyin_booking_id, out_book_no, douyin_order_id, poi_id, day, slot_label, phone, note,"
                           " status, refused_reason, created_at) VALUES (:id, 1, :book, '', '', '', '2026-11-21', '11:00-13:00', '', '', 'refused', :why,"
                           " '2026-11-20 00:00:00')")
                run_sql(sa.text(booking), [{"id": 1, "book": "b1", "why": full}, {"id": 2, "book": "b2", "why": "店里装修"}])
                run_sql(sa.text("INSERT INTO redemption_rule_events (id, organization_id, kind, detail, at) VALUES (:id, 1, :kind, :detail, '2026-11-20 00:00:00')"),
                        [{"id": 1, "kind": "product_paused", "detail": paused}, {"id": 2, "kind": "redemption_held", "detail": "13900000000"}])
                run_sql(sa.text("INSERT INTO sync_runs (id, organization_id, status, phase, attempts, pages, seen, changed, conflicts, errors, last_error,"
                                " created_at) VALUES (1, 1, 'done', 'review', 0, 0, 0, 0, 0, 0, '', '2026-11-20 00:00:00')"))
                run_sql(sa.text("INSERT INTO sync_changes (id, run_id, douyin_product_id, name, action, fields, message)"
                                " VALUES (1, 1, '', 'x', 'conflict', '{}', :message)"), {"message": synced})
            upgrade(revision="0016")

            def read(table, literal, message):
                t = sa.table(table, sa.column("id", sa.Integer), sa.column(literal, sa.Text), sa.column(message, sa.JSON))
                with _db.engine.connect() as connection:
                    return [tuple(row) for row in connection.execute(sa.select(t.c[literal], t.c[message]).order_by(t.c.id))]

            upgraded = (read("bookings", "refused_reason", "refused_reason_msg"), read("redemption_rule_events", "detail", "detail_msg"),
                        read("sync_changes", "message", "message_msg"))
            downgrade(revision="0015")
            with _db.engine.connect() as connection:
                restored = (connection.execute(sa.text("SELECT refused_reason FROM bookings ORDER BY id")).scalars().all(),
                            connection.execute(sa.text("SELECT detail FROM redemption_rule_events ORDER BY id")).scalars().all(),
                            connection.execute(sa.text("SELECT message FROM sync_changes")).scalars().all())
            _db.session.remove()
            _db.engine.dispose()
        assert upgraded == (
            [("", {"id": "%(day)s %(label)s 已约满（可接 %(n)s 单）", "values": {"day": "2026-11-21", "label": "11:00-13:00", "n": "2"}}),
             ("店里装修", None)],
            [("", {"id": "今日 %(count)s 张券码核销失败，超过 %(limit)s 张的阈值，已自动暂停", "values": {"count": "6", "limit": "5"}}),
             ("13900000000", None)],
            [("", {"id": synced, "values": {}})],
        )
        assert restored == ([full, "店里装修"], [paused, "13900000000"], [synced])

    if not database_url.startswith("postgresql"):
        run(f"sqlite:///{tmp_path / 'messages.db'}")
        return
    with scratch_postgres(database_url, "portal_messages") as url:
        run(url)


def _attempt(db, nonce):
    from portal.redemption.models import RedemptionAttempt

    return db.session.scalars(select(RedemptionAttempt).where(RedemptionAttempt.nonce == nonce)).one()


def test_a_counter_refusals_detail_is_kept_as_a_message_and_reads_in_both_languages(app, db, org, clerk, shop, clock):
    from portal.redemption import service as counter

    product = shop.product(org, stores=[org.stores[0]])
    used, late = shop.paid(org, product).vouchers[0], shop.paid(org, product).vouchers[0]
    assert counter.redeem(org.stores[0], used.code, nonce="first", actor=clerk, now=portal_clock.now()).ok
    again = counter.redeem(org.stores[0], used.code, nonce="again", actor=clerk, now=portal_clock.now())
    clock.advance(days=91)
    expired = counter.redeem(org.stores[0], late.code, nonce="late", actor=clerk, now=portal_clock.now())
    day = portal_clock.to_local(late.valid_until).strftime("%Y-%m-%d")
    assert expired.detail == f"有效期至 {day}" and again.detail.startswith(f"已于 {portal_clock.to_local(used.redeemed_at):%H:%M}")
    twice, late_attempt = _attempt(db, "again"), _attempt(db, "late")
    assert late_attempt.detail_msg == {"id": "有效期至 %(day)s", "values": {"day": day}} and late_attempt.detail_literal == ""
    assert twice.detail_msg["id"] == "已于 %(when)s 由 %(who)s 核销（%(store)s）"
    assert twice.detail_msg["values"]["who"] == clerk.display_name and twice.detail_msg["values"]["store"] == org.stores[0].name
    english = messages.in_language(messages.stored(twice, "detail"), "en")
    assert english.startswith("Redeemed at ") and f"by {clerk.display_name} ({org.stores[0].name})" in english
    assert messages.in_language(messages.stored(late_attempt, "detail"), "en") == f"Valid until {day}"
    assert late_attempt.detail == f"有效期至 {day}"


def test_a_paused_products_reason_reaches_the_counters_attempt_as_the_message(app, db, org, owner, clerk, shop, clock):
    from portal.redemption import service as counter
    from portal.redemption.models import Reason

    from portal.orders.models import OrderItem, Voucher

    product = _paused_by_the_rule(org, owner, clerk, shop, clock)
    # One of the codes refused at the wrong store, now shown at its own store.
    voucher = db.session.scalars(select(Voucher).join(OrderItem, OrderItem.id == Voucher.order_item_id).where(OrderItem.product_id == product.id)).first()
    result = counter.redeem(org.stores[0], voucher.code, nonce="paused", actor=clerk, now=portal_clock.now())
    assert result.reason == Reason.PRODUCT_PAUSED and result.detail == "今日 2 张券码核销失败，超过 1 张的阈值，已自动暂停"
    attempt = _attempt(db, "paused")
    assert attempt.detail_msg == product.paused_reason_msg and attempt.detail_literal == ""
    assert messages.in_language(messages.stored(attempt, "detail"), "en") == "2 codes failed to redeem today, over the threshold of 1: paused automatically"


def test_an_approval_that_cannot_redeem_keeps_the_owners_note_as_typed_and_adds_the_portals_sentence(app, client, db, org, owner, clerk, shop, clock):
    from portal.redemption import rules
    from portal.redemption import service as counter
    from portal.redemption.models import Outcome, ReviewCase

    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=portal_clock.now())
    product = shop.product(org, stores=[org.stores[0]])
    for n in range(2):
        voucher = shop.paid(org, product, phone="13900000077").vouchers[0]
        result = counter.redeem(org.stores[0], voucher.code, nonce=f"phone-{n}", actor=clerk, now=portal_clock.now())
    assert result.outcome == Outcome.HELD
    case = db.session.scalar(select(ReviewCase))
    clock.advance(days=91)
    assert not counter.decide_case(case, approve=True, note="熟客", actor=owner, now=portal_clock.now()).ok
    assert case.note == "熟客" and case.outcome_msg == {"id": "这张券已过期，不能核销。", "values": {}}
    db.session.flush()
    client.login_as(owner)
    decided = html(client.get("/counter/reviews")).select_one(f"#redemption-case-outcome-{case.id}")
    assert decided.get_text(strip=True) == "这张券已过期，不能核销。"
    client.post_form("/account/locale", {"locale": "en"})
    decided = html(client.get("/counter/reviews")).select_one(f"#redemption-case-outcome-{case.id}")
    assert decided.get_text(strip=True) == "This voucher has expired and cannot be redeemed."
    assert "熟客" in decided.parent.get_text()


def test_older_counter_details_and_review_notes_become_messages_and_downgrade_gives_them_back(database_url, tmp_path):
    """Migration 0016 on the counter's rows: an attempt's detail of the portal's becomes a message
    (a clerk's name stays a value as it is), Douyin's words stay; a review note keeps the owner's
    words and its trailing sentence of the portal's moves to `outcome_msg`."""
    import json

    import sqlalchemy as sa
    from cryptography.fernet import Fernet
    from flask_migrate import downgrade, upgrade

    from portal import create_app
    from portal.extensions import db as _db
    from tests.fixtures.app import scratch_postgres

    details = ["有效期至 2026-11-21", "已于 11-20 14:02 由 张三 核销（一号店）", "已于 14:02 由 抖音 核销", "券码已过期(抖音)"]
    notes = ["熟客 请顾客重新出示抖音券码核销", "这张券已过期，不能核销。", "疑似代核销"]

    def run(url):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                          "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "RQ_INPROCESS_WORKER": False})
        with app.app_context():
            upgrade(revision="0015")
            with _db.engine.begin() as connection:
                run_sql = connection.execute
                at = "'2026-11-20 00:00:00'"
                run_sql(sa.text(f"INSERT INTO organizations (id, name, edition, multi_store, created_at) VALUES (1, 'a', 'basic', true, {at})"))
                run_sql(sa.text(f"INSERT INTO stores (id, organization_id, name, address, phone, opening_hours, created_at)"
                                f" VALUES (1, 1, '一号店', '', '', '', {at})"))
                run_sql(sa.text(f"INSERT INTO redemption_attempts (id, organization_id, store_id, code, buyer_phone, outcome, reason, detail, at)"
                                f" VALUES (:id, 1, 1, 'c', '', 'rejected', 'expired', :detail, {at})"),
                        [{"id": n + 1, "detail": detail} for n, detail in enumerate(details)])
                run_sql(sa.text(f"INSERT INTO orders (id, organization_id, douyin_order_id, out_order_no, status, fulfilment, total_fen, discount_fen,"
                                f" paid_fen, paid_at, buyer_phone, buyer_open_id, source, channel, tracking_code, douyin_poi_id, shipping_status, created_at)"
                                f" VALUES (1, 1, 'o1', 'n1', 'paid', 'in_store', 100, 0, 100, {at}, '', '', 'miniapp', '', '', '', '', {at})"))
                run_sql(sa.text("INSERT INTO order_items (id, order_id, title, quantity, unit_price_fen, douyin_item_order_id) VALUES (1, 1, 't', 1, 100, '')"))
                run_sql(sa.text(f"INSERT INTO vouchers (id, organization_id, order_id, order_item_id, kind, code, status, valid_from, valid_until,"
                                f" note, douyin_certificate_id, douyin_verify_id) VALUES (1, 1, 1, 1, 'local', 'c', 'unused', {at}, {at}, '', '', '')"))
                run_sql(sa.text(f"INSERT INTO review_cases (id, organization_id, store_id, voucher_id, attempt_id, buyer_phone, rule, status, note,"
                                f" created_at) VALUES (:id, 1, 1, 1, 1, '', 'phone', 'approved', :note, {at})"),
                        [{"id": n + 1, "note": note} for n, note in enumerate(notes)])
            upgrade(revision="0016")
            with _db.engine.connect() as connection:
                attempts = [tuple(row) for row in connection.execute(sa.text("SELECT detail, detail_msg FROM redemption_attempts ORDER BY id"))]
                cases = [tuple(row) for row in connection.execute(sa.text("SELECT note, outcome_msg FROM review_cases ORDER BY id"))]
            downgrade(revision="0015")
            with _db.engine.connect() as connection:
                restored = (connection.execute(sa.text("SELECT detail FROM redemption_attempts ORDER BY id")).scalars().all(),
                            connection.execute(sa.text("SELECT note FROM review_cases ORDER BY id")).scalars().all())
            _db.session.remove()
            _db.engine.dispose()
        decode = lambda value: json.loads(value) if isinstance(value, str) else value  # noqa: E731 (SQLite hands JSON back as text)
        assert [(literal, decode(stored)) for literal, stored in attempts] == [
            ("", {"id": "有效期至 %(day)s", "values": {"day": "2026-11-21"}}),
            ("", {"id": "已于 %(when)s 由 %(who)s 核销（%(store)s）", "values": {"when": "11-20 14:02", "who": "张三", "store": "一号店"}}),
            ("", {"id": "已于 %(when)s 由 %(who)s 核销", "values": {"when": "14:02", "who": {"id": "抖音", "values": {}}}}),
            ("券码已过期(抖音)", None),
        ]
        assert [(note, decode(stored)) for note, stored in cases] == [
            ("熟客", {"id": "请顾客重新出示抖音券码核销", "values": {}}), ("", {"id": "这张券已过期，不能核销。", "values": {}}), ("疑似代核销", None)]
        assert restored == (details, notes)

    if not database_url.startswith("postgresql"):
        run(f"sqlite:///{tmp_path / 'counter-messages.db'}")
        return
    with scratch_postgres(database_url, "portal_counter_messages") as url:
        run(url)
