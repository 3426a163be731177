"""Redeeming at the counter: once only, idempotent on the nonce, every reason, the undo window."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import signals
from portal.orders.models import OrderStatus, VoucherStatus
from portal.outbox import OutboxMessage
from portal.redemption import service
from portal.redemption.models import Outcome, Reason, RedemptionAttempt


@pytest.fixture
def sent():
    received = []

    def on(name):
        def receiver(sender, **kwargs):
            received.append((name, sender))

        return receiver

    handlers = {name: on(name) for name in ("voucher_redeemed", "voucher_redemption_undone", "order_completed")}
    for name, receiver in handlers.items():
        getattr(signals, name).connect(receiver)
    yield received
    for name, receiver in handlers.items():
        getattr(signals, name).disconnect(receiver)


@pytest.fixture
def voucher(shop, org, clock):
    product = shop.product(org, stores=[org.stores[0]])
    return shop.paid(org, product).vouchers[0]


def attempts(db, **where):
    stmt = select(func.count()).select_from(RedemptionAttempt)
    for key, value in where.items():
        stmt = stmt.where(getattr(RedemptionAttempt, key) == value)
    return db.session.scalar(stmt)


def test_redeem_marks_the_voucher_completes_the_order_and_reports_to_douyin(db, org, clerk, voucher, clock, sent, queue):
    from portal.audit import AuditEntry
    from portal.ledger.models import LedgerOrder

    result = service.redeem(org.stores[0], voucher.code, nonce="n1", actor=clerk, now=clock.now())
    assert result.ok
    assert voucher.status == VoucherStatus.REDEEMED and voucher.redeemed_by_id == clerk.id
    assert voucher.redeemed_store_id == org.stores[0].id
    assert voucher.order.status == OrderStatus.COMPLETED
    report = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL))
    assert report.payload["code"] == voucher.code and report.payload["order_id"] == voucher.order.douyin_order_id
    assert result.attempt.report_message_id == report.id
    # In the same transaction: the audit entry and the start of the ledger's settlement clock.
    audited = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "redemption.voucher.redeemed")).one()
    assert (audited.actor_id, audited.object_id, audited.payload["voucher_code"]) == (clerk.id, str(voucher.id), voucher.code)
    ledger_order = db.session.scalar(select(LedgerOrder).where(LedgerOrder.order_id == voucher.order_id))
    assert ledger_order.completed_at == clock.now() and ledger_order.due_at is not None
    # The other domains hear of it from a job once the redemption has committed.
    assert sent == []
    db.session.commit()
    queue.run()
    assert [name for name, _ in sent] == ["voucher_redeemed", "order_completed"]


def test_confirms_committed_one_after_another_share_one_job_that_tells_of_each(db, org, shop, clerk, voucher, clock, sent, queue):
    """A busy counter: each confirm adds its call to a batch; the first queues the one job."""
    other = shop.paid(org, shop.product(org, stores=[org.stores[0]])).vouchers[0]
    for code, nonce in ((voucher.code, "first"), (other.code, "second")):
        assert service.redeem(org.stores[0], code, nonce=nonce, actor=clerk, now=clock.now()).ok
        db.session.commit()
    assert queue.job_funcs().count("portal.jobs.default.run_batched") == 1
    queue.run()
    assert [name for name, _ in sent].count("voucher_redeemed") == 2
    db.session.expire_all()
    reports = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL)).all()
    # The job tried each report: this merchant has no AppSecret yet, so each waits with the reason.
    assert len(reports) == 2 and all(report.last_error for report in reports)


def test_redeem_twice_reports_already_used_with_who_and_when(db, org, clerk, accounts, voucher, clock):
    from portal.accounts.models import Role

    other = accounts.user(Role.CLERK, org, org.stores[0])
    assert service.redeem(org.stores[0], voucher.code, nonce="a", actor=clerk, now=clock.now()).ok
    clock.advance(minutes=5)
    second = service.redeem(org.stores[0], voucher.code, nonce="b", actor=other, now=clock.now())
    assert not second.ok and second.reason == Reason.ALREADY_REDEEMED
    assert second.detail.startswith(f"已于 10:00 由 {clerk.display_name} 核销")
    assert "不能重复核销" in second.message


def test_a_replayed_nonce_returns_the_first_answer_and_redeems_once(db, org, clerk, voucher, clock, sent, queue):
    first = service.redeem(org.stores[0], voucher.code, nonce="tap", actor=clerk, now=clock.now())
    again = service.redeem(org.stores[0], voucher.code, nonce="tap", actor=clerk, now=clock.now())
    assert first.ok and again.ok and again.replayed
    assert again.attempt.id == first.attempt.id
    assert attempts(db, outcome=Outcome.SUCCESS) == 1
    db.session.commit()
    queue.run()
    assert [name for name, _ in sent].count("voucher_redeemed") == 1


def test_the_claim_is_a_conditional_update(db, org, clerk, voucher, clock):
    store = org.stores[0]
    assert service._claim(voucher, store, clerk, clock.now()) is True
    assert service._claim(voucher, store, clerk, clock.now()) is False


def test_an_unknown_code_is_not_found_and_a_typo_is_explained(db, org, clerk, voucher, clock):
    result = service.redeem(org.stores[0], "0000000000000000", nonce="x", actor=clerk, now=clock.now())
    assert result.reason == Reason.NOT_FOUND
    typo = voucher.code[:-1] + str((int(voucher.code[-1]) + 1) % 10)
    result = service.redeem(org.stores[0], typo, nonce="y", actor=clerk, now=clock.now())
    assert result.reason == Reason.NOT_FOUND and result.outcome == Outcome.REJECTED
    looked = service.lookup(org.stores[0], typo, actor=clerk, now=clock.now())
    assert looked.reason == Reason.NOT_FOUND and "校验位" in looked.detail


def test_an_expired_voucher_is_refused(db, org, clerk, voucher, clock):
    clock.advance(days=91)
    result = service.redeem(org.stores[0], voucher.code, nonce="e", actor=clerk, now=clock.now())
    assert result.reason == Reason.EXPIRED and "有效期至" in result.detail
    assert voucher.status == VoucherStatus.UNUSED


def test_a_voucher_of_another_store_is_refused_with_where_it_works(db, org, clerk, voucher, clock):
    result = service.redeem(org.stores[1], voucher.code, nonce="s", actor=clerk, now=clock.now())
    assert result.reason == Reason.WRONG_STORE and org.stores[0].name in result.detail


def test_a_refunded_voucher_is_refused(db, org, clerk, voucher, clock):
    voucher.status = VoucherStatus.REFUNDED
    result = service.redeem(org.stores[0], voucher.code, nonce="r", actor=clerk, now=clock.now())
    assert result.reason == Reason.REFUNDED and result.message == "这张券已退款，不能核销。"


def test_a_paused_product_is_refused(db, org, clerk, voucher, clock):
    voucher.item.product.paused_at = clock.now()
    voucher.item.product.paused_reason = "异常"
    result = service.redeem(org.stores[0], voucher.code, nonce="p", actor=clerk, now=clock.now())
    assert result.reason == Reason.PRODUCT_PAUSED


def test_a_voucher_of_another_merchant_is_not_found(db, org, accounts, clerk, shop, clock):
    other = accounts.org("别家")
    theirs = shop.paid(other, shop.product(other)).vouchers[0]
    assert service.redeem(org.stores[0], theirs.code, nonce="o", actor=clerk, now=clock.now()).reason == Reason.NOT_FOUND


def test_every_attempt_is_logged_with_who_where_and_why(db, org, clerk, voucher, clock):
    service.redeem(org.stores[1], voucher.code, nonce="1", actor=clerk, now=clock.now())
    service.redeem(org.stores[0], voucher.code, nonce="2", actor=clerk, now=clock.now())
    rows = db.session.scalars(select(RedemptionAttempt).order_by(RedemptionAttempt.id)).all()
    assert [(r.outcome, r.reason, r.store_id, r.user_id, r.code) for r in rows] == [
        ("rejected", "wrong_store", org.stores[1].id, clerk.id, voucher.code),
        ("success", "", org.stores[0].id, clerk.id, voucher.code),
    ]


def test_a_count_card_is_n_vouchers_and_reports_once_when_used_up(db, org, clerk, shop, clock):
    from portal.catalog.models import ProductKind

    card = shop.product(org, kind=ProductKind.COUNT_CARD, uses=3)
    order = shop.paid(org, card)
    assert len(order.vouchers) == 3
    for i, voucher in enumerate(order.vouchers):
        assert service.redeem(org.stores[0], voucher.code, nonce=f"c{i}", actor=clerk, now=clock.now()).ok
        reports = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL))
        assert reports == (1 if i == 2 else 0)
    assert order.status == OrderStatus.COMPLETED


def test_a_count_card_is_one_code_the_customer_shows_n_times(db, org, clerk, shop, clock):
    from portal.catalog.models import ProductKind
    from portal.orders.service import customer_vouchers

    order = shop.paid(org, shop.product(org, kind=ProductKind.COUNT_CARD, uses=3))
    [shown] = customer_vouchers(order)
    assert (shown["uses_left"], shown["uses_total"], shown["status"]) == (3, 3, VoucherStatus.UNUSED)
    code = shown["code"]
    for i in range(3):
        preview = service.lookup(org.stores[0], code, actor=clerk, now=clock.now())
        assert (preview.uses_left, preview.uses_total) == (3 - i, 3)
        assert service.redeem(org.stores[0], code, nonce=f"card{i}", actor=clerk, now=clock.now()).ok
        assert customer_vouchers(order)[0]["uses_left"] == 2 - i
    assert order.status == OrderStatus.COMPLETED
    assert customer_vouchers(order)[0]["status"] == VoucherStatus.REDEEMED
    used_up = service.redeem(org.stores[0], code, nonce="card3", actor=clerk, now=clock.now())
    assert used_up.reason == Reason.ALREADY_REDEEMED
    report = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL)).one()
    assert report.payload["code"] == code


def test_a_count_card_use_taken_by_another_phone_takes_the_next_use(db, org, clerk, shop, clock, monkeypatch):
    from portal.catalog.models import ProductKind

    order = shop.paid(org, shop.product(org, kind=ProductKind.COUNT_CARD, uses=2))
    first, second = sorted(order.vouchers, key=lambda v: v.id)
    read = service._read

    def read_then_lose_the_race(*args, **kwargs):
        seen = read(*args, **kwargs)
        # The other phone's confirm claims this use between this phone's read and its claim.
        assert seen["id"] == first.id and service._claim(first, org.stores[0], clerk, clock.now())
        return seen

    monkeypatch.setattr(service, "_read", read_then_lose_the_race)
    result = service.redeem(org.stores[0], first.code, nonce="late-phone", actor=clerk, now=clock.now())
    assert result.ok and result.voucher is second and result.attempt.voucher_id == second.id
    assert attempts(db, outcome=Outcome.SUCCESS) == 1
    assert order.status == OrderStatus.COMPLETED


def test_undo_within_the_hour_puts_the_voucher_back_and_drops_the_queued_report(db, org, clerk, voucher, clock, sent):
    service.redeem(org.stores[0], voucher.code, nonce="u", actor=clerk, now=clock.now())
    clock.advance(minutes=59)
    state = service.undo_state(voucher, clock.now())
    assert state.allowed and state.seconds_left == 60
    service.undo(voucher, actor=clerk, now=clock.now())
    assert voucher.status == VoucherStatus.UNUSED and voucher.redeemed_at is None
    assert voucher.order.status == OrderStatus.PAID
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL)) == 0
    assert ("voucher_redemption_undone", voucher) in sent
    assert attempts(db, outcome=Outcome.UNDONE) == 1
    assert service.redeem(org.stores[0], voucher.code, nonce="u2", actor=clerk, now=clock.now()).ok


def test_undo_after_the_hour_is_refused_and_says_why(db, org, clerk, voucher, clock):
    service.redeem(org.stores[0], voucher.code, nonce="late", actor=clerk, now=clock.now())
    clock.advance(hours=1, seconds=1)
    state = service.undo_state(voucher, clock.now())
    assert not state.allowed and "超过 1 小时" in state.why_not
    with pytest.raises(service.RedemptionError):
        service.undo(voucher, actor=clerk, now=clock.now())
    assert voucher.status == VoucherStatus.REDEEMED


def test_undo_of_a_delivered_report_cancels_it_on_douyin_through_the_outbox(db, org, clerk, voucher, clock):
    from portal.outbox import OutboxStatus

    result = service.redeem(org.stores[0], voucher.code, nonce="d", actor=clerk, now=clock.now())
    report = db.session.get(OutboxMessage, result.attempt.report_message_id)
    report.status = OutboxStatus.DELIVERED
    report.result = {"verify_id": "v1", "certificate_id": "c1"}
    service.undo(voucher, actor=clerk, now=clock.now() + timedelta(minutes=3))
    cancel = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == service.CANCEL_LOCAL))
    assert cancel.payload["verify_id"] == "v1" and cancel.payload["certificate_id"] == "c1"


def test_other_buyers_redemptions_do_not_count_toward_a_phone(db, org, clerk, shop, clock):
    product = shop.product(org, stores=[org.stores[0]])
    for n in range(5):
        voucher = shop.paid(org, product, phone=f"1390000000{n}").vouchers[0]
        result = service.redeem(org.stores[0], voucher.code, nonce=f"buyer{n}", actor=clerk, now=clock.now())
        assert result.ok, (n, result.outcome, result.reason)
