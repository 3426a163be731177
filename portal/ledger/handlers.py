"""The ledger's connections to the rest of the portal, registered on import (portal/wiring.py):
domain signals from orders and redemption, Douyin trade callbacks (refunds), and the outbox
deliveries to Douyin (refund audit, settlement, withdrawal). Every receiver is idempotent."""

from __future__ import annotations

from sqlalchemy import select

from portal import clock, outbox, signals
from portal.douyin import DouyinError, replies, webhooks
from portal.douyin.shapes import read
from portal.i18n import lazy_gettext as _l
from portal.extensions import db
from portal.onboarding.connection import delivery_client
from portal.ledger import refunds, service
from portal.ledger.models import LedgerOrder, Withdrawal


# --- domain signals -----------------------------------------------------------------------


@signals.order_paid.connect
def on_order_paid(order, **_):
    service.record_payment(order, now=clock.now())


@signals.order_completed.connect
def on_order_completed(order, **_):
    # Sent when an order's last voucher is redeemed (or refunded) and when a courier order is
    # delivered: the one moment the D+N clock starts.
    service.mark_complete(order, now=clock.now())


@signals.voucher_redemption_undone.connect
def on_voucher_redemption_undone(voucher, **_):
    service.undo_completion(voucher.order, now=clock.now())


# --- Douyin trade callbacks ---------------------------------------------------------------


@webhooks.responder("pre_create_refund")
def reply_pre_create_refund(event) -> dict:
    refund = refunds.receive_request(event.organization_id, read(replies.PRE_CREATE_REFUND_MSG, event.payload or {}), now=clock.now())
    return {"out_refund_no": refund.out_refund_no}


@webhooks.handler("refund")
def handle_refund(event) -> None:
    refunds.receive_result(event.organization_id, read(replies.REFUND_MSG, event.payload or {}), now=clock.now())


# --- outbox deliveries --------------------------------------------------------------------



@outbox.handler("ledger.refund_audit")
def deliver_refund_audit(message) -> dict:
    p = message.payload
    return delivery_client(message.organization_id).refund_audit(refund_id=p["refund_id"], agree=bool(p["agree"]), deny_message=p.get("deny_message"))


def _record_settlement(lo, rows) -> None:
    """Douyin's settled amount of a successful settlement becomes the truth (an adjustment when it differs)."""
    done = [row for row in rows if str(row["settle_status"]).upper() == "SUCCESS" and row.get("settle_amount") is not None]
    if not done:
        return
    lo.douyin_settle_status = "success"
    service.record_douyin_settlement(
        lo, settle_amount=sum(r["settle_amount"] for r in done), rake=sum(r.get("rake") or 0 for r in done),
        commission=sum(r.get("commission") or 0 for r in done), now=clock.now())


@outbox.handler("ledger.settle_create")
def deliver_settle_create(message) -> dict:
    """Ask Douyin to settle an order we settled; 23111 (already asked) -> query the result."""
    from portal.onboarding.connection import find_app
    from portal.orders.models import Order

    lo = db.session.scalar(select(LedgerOrder).where(LedgerOrder.order_id == int(message.payload["order_id"])))
    order = db.session.get(Order, lo.order_id)
    client = delivery_client(message.organization_id)
    out_settle_no = f"ls{lo.order_id}"
    app = find_app(message.organization_id)
    try:
        data = client.settle_create(
            out_order_no=order.out_order_no, out_settle_no=out_settle_no, settle_desc="核销结算",
            settle_params=[{"merchant_uid": (app.merchant_uid if app else "") or "", "amount": lo.paid_fen}],
        )
        lo.douyin_settle_id = data["settle_id"]
        lo.douyin_settle_status = "requested"
        _record_settlement(lo, client.settle_query(out_settle_no=out_settle_no))
    except DouyinError as error:
        if error.code == 23111:
            rows = client.settle_query(out_settle_no=out_settle_no)
            if rows:
                lo.douyin_settle_id = rows[0]["settle_id"] or lo.douyin_settle_id
                lo.douyin_settle_status = (rows[0]["settle_status"] or "requested").lower()
                _record_settlement(lo, rows)
            else:
                lo.douyin_settle_status = "requested"
        elif error.code == 23117:
            lo.douyin_settle_status = "auto"
            lo.douyin_settle_note = str(error)
        else:
            lo.douyin_settle_status = "failed" if not error.retryable else lo.douyin_settle_status
            lo.douyin_settle_note = str(error)
            raise
    return {"settle_id": lo.douyin_settle_id, "status": lo.douyin_settle_status}


@outbox.handler("ledger.withdraw_create")
def deliver_withdraw_create(message) -> dict:
    """Ask Douyin (ecpay merchant_withdraw) to pay a withdrawal out. A refusal returns the money to
    available with a reason the merchant can act on; a retryable failure waits for the outbox."""
    withdrawal = db.session.get(Withdrawal, int(message.payload["withdrawal_id"]))
    account = service.platform_account(message.organization_id)
    if account is None:
        service.finish_withdrawal(withdrawal, success=False, now=clock.now(), reason=_l(
            "尚未查询到担保支付进件的商户号和支付渠道。款项已退回可提现余额；请在抖音推广第 2 步刷新进件状态后重新提现。"))
        return {"status": "no_account"}
    client, merchant_uid, channel = account
    try:
        data = client.merchant_withdraw(merchant_uid=merchant_uid, channel_type=channel, out_order_id=withdrawal.out_withdraw_no,
                                        withdraw_amount=withdrawal.amount_fen)
    except DouyinError as error:
        if not error.retryable:
            service.finish_withdrawal(withdrawal, success=False, reason=service.withdrawal_refused_reason(error), now=clock.now())
            return {"status": "refused", "error": str(error)}
        raise
    withdrawal.douyin_withdraw_id = data["order_id"]
    return dict(data)
