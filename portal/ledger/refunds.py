"""Refunds, end to end: Douyin's request is checked against the merchant's policy (customers may
refund by themselves within X days; only orders with nothing redeemed or shipped; whole order
only) and approved or rejected automatically with the reason shown, or left to the merchant
(Douyin approves by itself 72 h after the request). An approved refund that Douyin completes
reverses the ledger, voids the unused vouchers and sends `order_refunded`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from flask_babel.speaklater import LazyString
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, messages, money, outbox, signals
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ledger import service
from portal.ledger.models import AccountCode, LedgerOrderStatus, RefundRequest, RefundStatus, TxnKind
from portal.ledger.service import Line, LedgerError

AUTO_APPROVAL = timedelta(hours=72)
REFUNDS_LINK = "/ledger/refunds"

# Douyin's preset refund reasons (refund_create's codes 101, 102, 103 and 999). pre_create_refund
# carries only their text: a preset is shown in the reader's language, anything else as typed.
PRESET_REASONS = {
    "不想要了": _l("不想要了"),
    "商家服务原因": _l("商家服务原因"),
    "商品质量问题": _l("商品质量问题"),
    "其他": _l("其他"),
}


class RefundError(LedgerError):
    pass


def _order_by_douyin_id(organization_id: int, douyin_order_id: str | None, out_order_no: str | None = None):
    from portal.orders.models import Order

    stmt = select(Order).where(Order.organization_id == organization_id)
    if douyin_order_id:
        found = db.session.scalar(stmt.where(Order.douyin_order_id == str(douyin_order_id)))
        if found is not None:
            return found
    if out_order_no:
        return db.session.scalar(stmt.where(Order.out_order_no == str(out_order_no)))
    return None


def _refund_by_douyin_id(organization_id: int, refund_id: str) -> RefundRequest | None:
    """Only the organization whose callback URL received the message: another merchant's refund
    id names nothing here (a signed callback is the sender's word about its own orders only)."""
    return db.session.scalar(
        select(RefundRequest).where(RefundRequest.organization_id == organization_id, RefundRequest.douyin_refund_id == refund_id)
    )


def _ms(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value else None
    except (TypeError, ValueError):
        return None


def check_policy(order, amount_fen: int, *, now: datetime) -> tuple[bool | None, LazyString]:
    """(True, why) to approve, (False, why) to reject, (None, why) when a person must decide; `why`
    is a lazy string, stored as a message id and shown in the reader's language."""
    if order is None:
        return None, _l("未找到该订单，请人工核对")
    settings = service.get_settings(order.organization_id)
    if order.status == "refunded":
        return False, _l("订单已退款")
    if any(v.status == "redeemed" for v in order.vouchers):
        return False, _l("订单已有券核销，仅未核销的订单可退款")
    if order.fulfilment == "courier" and order.shipping_status in ("shipped", "delivered"):
        return False, _l("订单已发货，不支持退款")
    if amount_fen != order.paid_fen:
        return False, _l("仅支持整单退款（申请 %(asked)s，订单实付 %(paid)s）", asked=money.format_fen(amount_fen), paid=money.format_fen(order.paid_fen))
    days = (clock.to_local(now).date() - clock.to_local(order.paid_at).date()).days
    if days > settings.refund_window_days:
        return False, _l("已超过 %(days)s 天自助退款期限", days=settings.refund_window_days)
    if not settings.refund_auto_audit:
        return None, _l("符合退款规则，等待商家审核")
    return True, _l("符合退款规则：未核销、%(days)s 天内、整单退款", days=settings.refund_window_days)


def customer_reason(reasons) -> LazyString | str:
    """The customer's reasons as stored: Douyin's presets as message ids, typed text as typed."""
    parts = [PRESET_REASONS.get(r.strip(), r.strip()) for r in reasons or [] if isinstance(r, str) and r.strip()]
    if not any(isinstance(part, LazyString) for part in parts):
        return "；".join(parts)
    joined = parts[0]
    for part in parts[1:]:
        joined = _l("%(first)s；%(then)s", first=joined, then=part)
    return joined


def receive_request(organization_id: int, payload: dict, *, now: datetime) -> RefundRequest:
    """Douyin's `pre_create_refund`: store the request once, decide it by the policy, queue the
    audit answer (outbox) and notify the merchant. Idempotent on Douyin's refund id."""
    from portal.notifications import notify

    refund_id = str(payload.get("refund_id") or "")
    if not refund_id:
        raise RefundError("refund_id missing")
    existing = _refund_by_douyin_id(organization_id, refund_id)
    if existing is not None:
        return existing
    order = _order_by_douyin_id(organization_id, payload.get("order_id"), payload.get("out_order_no"))
    reasons = payload.get("refund_reason") or []
    need_audit = str(payload.get("need_refund_audit", 1)) == "1"
    refund = RefundRequest(
        organization_id=organization_id, order_id=getattr(order, "id", None), store_id=getattr(order, "store_id", None),
        douyin_refund_id=refund_id, douyin_order_id=str(payload.get("order_id") or ""), out_refund_no=f"rf{refund_id}"[:64],
        amount_fen=int(payload.get("refund_total_amount") or 0),
        customer_reason=customer_reason(reasons),
        need_audit=need_audit, audit_deadline_at=_ms(payload.get("refund_audit_deadline")) or now + AUTO_APPROVAL,
        status=RefundStatus.PENDING, created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(refund)
    except IntegrityError:
        return _refund_by_douyin_id(organization_id, refund_id)
    verdict, why = check_policy(order, refund.amount_fen, now=now)
    refund.decision_reason = why
    if verdict is not None:
        _decide(refund, approve=verdict, reason=why, by="auto", actor=None, now=now)
    title = _l("退款申请 %(amount)s：%(state)s", amount=money.format_fen(refund.amount_fen),
               state={True: _l("已自动同意"), False: _l("已自动拒绝"), None: _l("待处理")}[verdict])
    notify(organization_id, "refund_request", title, why, link=REFUNDS_LINK, store_id=refund.store_id)
    audit.record("ledger.refund.received", organization_id=organization_id, obj=refund, verdict=verdict, reason=why)
    return refund


def _decide(refund: RefundRequest, *, approve: bool, reason, by: str, actor, now: datetime) -> None:
    refund.status = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
    refund.decided_by = by
    refund.decision_reason = reason
    refund.decided_by_id = getattr(actor, "id", None)
    refund.decided_at = now
    if refund.need_audit:
        outbox.add(refund.organization_id, "ledger.refund_audit",
                   # The customer reads Douyin's page in Chinese, whoever decided.
                   {"refund_id": refund.douyin_refund_id, "agree": approve,
                    "deny_message": None if approve else messages.in_language(messages.dump(reason), "zh_Hans")[:150]},
                   dedupe_key=refund.douyin_refund_id)


def decide(refund: RefundRequest, *, approve: bool, reason: str, actor, now: datetime) -> RefundRequest:
    """The merchant approves or rejects a pending request (a rejection needs a reason)."""
    if refund.status != RefundStatus.PENDING:
        raise RefundError(_l("该退款申请已处理"))
    if refund.audit_deadline_at and now >= refund.audit_deadline_at:
        raise RefundError(_l("已超过 72 小时审核期限，抖音已自动同意"))
    reason = (reason or "").strip()
    if not approve and not reason:
        raise RefundError(_l("拒绝退款须填写原因"), field="reason")
    _decide(refund, approve=approve, reason=reason or _l("商家同意退款"), by="merchant", actor=actor, now=now)
    audit.record("ledger.refund.decided", actor=actor, obj=refund, approve=approve, reason=reason)
    db.session.flush()
    return refund


def apply_refund(order, *, refund: RefundRequest | None, now: datetime) -> bool:
    """Douyin returned the whole order's money: reverse the ledger (in transit -> refunded; for a
    settled order not yet withdrawn: available and fees -> refunded), void the unused vouchers,
    mark the order refunded and send `order_refunded`. Idempotent: False if already applied."""
    lo = service.record_payment(order, now=now)
    if lo.status == LedgerOrderStatus.REFUNDED:
        return False
    scope, store = lo.scope, lo.store_id
    if lo.status == LedgerOrderStatus.IN_TRANSIT:
        lines = [Line(scope, store, AccountCode.IN_TRANSIT, -lo.paid_fen), Line(scope, store, AccountCode.REFUNDED, lo.paid_fen)]
    else:
        if lo.withdrawn_fen:
            raise RefundError(_l("订单款项已提现，退款需人工处理"))
        lines = [
            Line(scope, store, AccountCode.AVAILABLE, -lo.net_fen),
            Line(scope, store, AccountCode.FEES, -(lo.tech_fee_fen + lo.channel_fee_fen)),
            Line(scope, store, AccountCode.REFUNDED, lo.paid_fen),
        ]
    service.post(order.organization_id, TxnKind.REFUND, f"order:{order.id}", lines, now=now, order_id=order.id,
                 memo=refund.douyin_refund_id if refund else "")
    lo.status = LedgerOrderStatus.REFUNDED
    lo.refunded_at = now
    for voucher in order.vouchers:
        if voucher.status == "unused":
            voucher.status = "refunded"
    order.status = "refunded"
    if refund is not None:
        refund.status = RefundStatus.REFUNDED
        refund.refunded_at = now
    db.session.flush()
    signals.order_refunded.send(order, refund=refund)
    audit.record("ledger.refund.posted", organization_id=order.organization_id, obj=lo, order_id=order.id, amount_fen=lo.paid_fen)
    return True


def receive_result(organization_id: int, payload: dict, *, now: datetime) -> RefundRequest | None:
    """Douyin's `refund` callback: SUCCESS applies the refund (a request Douyin approved by itself
    at the deadline, or one that needed no audit, is recorded too); FAIL marks it failed."""
    from portal.notifications import notify

    refund_id = str(payload.get("refund_id") or "")
    refund = _refund_by_douyin_id(organization_id, refund_id) if refund_id else None
    order = _order_by_douyin_id(organization_id, payload.get("order_id"))
    success = str(payload.get("status") or "").upper() == "SUCCESS"
    if refund is None and refund_id:
        refund = RefundRequest(
            organization_id=organization_id, order_id=getattr(order, "id", None), store_id=getattr(order, "store_id", None),
            douyin_refund_id=refund_id, douyin_order_id=str(payload.get("order_id") or ""),
            out_refund_no=str(payload.get("out_refund_no") or f"rf{refund_id}")[:64],
            amount_fen=int(payload.get("refund_total_amount") or 0), need_audit=False,
            status=RefundStatus.APPROVED if success else RefundStatus.FAILED, decided_by="douyin",
            decision_reason=_l("无需商家审核，抖音直接退款"), decided_at=now, created_at=now,
        )
        db.session.add(refund)
        db.session.flush()
        notify(organization_id, "refund_request", _l("订单已退款 %(amount)s", amount=money.format_fen(refund.amount_fen)),
               messages.stored(refund, "decision_reason"), link=REFUNDS_LINK, store_id=refund.store_id)
    if refund is None:
        return None
    if refund.status == RefundStatus.PENDING:
        refund.decided_by = "douyin"
        refund.decided_at = now
        refund.decision_reason = _l("商家 72 小时内未处理，抖音自动同意")
    if success and order is not None:
        apply_refund(order, refund=refund, now=now)
    elif not success and refund.status in (RefundStatus.PENDING, RefundStatus.APPROVED):
        refund.status = RefundStatus.FAILED if refund.status == RefundStatus.APPROVED else RefundStatus.REJECTED
    db.session.flush()
    return refund


def hours_left(refund: RefundRequest, now: datetime) -> tuple[int, int] | None:
    """(hours, minutes) until Douyin approves a pending request by itself."""
    if refund.status != RefundStatus.PENDING or refund.audit_deadline_at is None:
        return None
    seconds = max(int((refund.audit_deadline_at - now).total_seconds()), 0)
    return seconds // 3600, seconds % 3600 // 60
