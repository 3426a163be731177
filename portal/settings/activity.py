"""The activity log as people read it: 「王店主 于 12-07 20:52 核销了 双人午市套餐（券码 …0398）」.

Audit entries keep codes, ids and values; this module turns a page of them into sentences in the
reader's language and local time, naming each object the way the portal shows it (the product's
name, the customer's code, the order number), and filters them by who, what and when.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import clock, messages, money
from portal.audit import AuditEntry
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

# What the filter offers: a group per area of the portal, by the code's domain.
GROUPS = {
    "catalog": _l("商品"),
    "redemption": _l("核销"),
    "orders": _l("订单"),
    "ledger": _l("担保账户"),
    "onboarding": _l("抖音推广接入"),
    "accounts": _l("员工与账号"),
    "settings": _l("设置"),
    "admin": _l("平台运营"),
}

# The predicate of each sentence; %(thing)s names the object, other names come from the payload.
DID = {
    "accounts.invitation.accepted": _l("接受了邀请，加入本店"),
    "accounts.password.changed": _l("修改了自己的密码"),
    "accounts.staff.invited": _l("邀请了员工 %(email)s"),
    "accounts.staff.reactivated": _l("恢复了员工 %(thing)s 的账号"),
    "accounts.staff.suspended": _l("停用了员工 %(thing)s 的账号"),
    "accounts.staff.removed": _l("移除了员工 %(thing)s"),
    "accounts.staff.role_changed": _l("调整了员工 %(thing)s 的角色"),
    "admin.edition.changed": _l("更改了版本"),
    "admin.feature.switched": _l("切换了功能 %(feature)s"),
    "catalog.conflict.resolved": _l("处理了 %(thing)s 与抖音的冲突"),
    "catalog.product.copied": _l("复制出商品 %(thing)s"),
    "catalog.product.created": _l("新建了商品 %(thing)s"),
    "catalog.product.updated": _l("修改了商品 %(thing)s"),
    "catalog.product.delisted": _l("停售了商品 %(thing)s"),
    "catalog.product.online_changed": _l("上架/下架了商品 %(thing)s"),
    "catalog.product.paused": _l("暂停了商品 %(thing)s"),
    "catalog.product.resumed": _l("恢复销售商品 %(thing)s"),
    "catalog.product.submitted": _l("提交了商品 %(thing)s 的抖音审核"),
    "catalog.product.review_approved": _l("收到抖音审核结果：商品 %(thing)s 已通过"),
    "catalog.product.review_rejected": _l("收到抖音审核结果：商品 %(thing)s 未通过"),
    "catalog.sync.started": _l("开始刷新商品列表"),
    "catalog.sync.finished": _l("完成了商品列表刷新"),
    "ledger.deposit.posted": _l("登记了保证金 %(amount)s"),
    "ledger.reconciliation.ran": _l("与抖音核对了 %(bill_date)s 的账单"),
    "ledger.refund.decided": _l("处理了退款申请 %(thing)s"),
    "ledger.refund.posted": _l("退款入账：%(thing)s"),
    "ledger.refund.received": _l("收到退款申请 %(thing)s"),
    "ledger.settings.updated": _l("修改了结算与退款设置"),
    "ledger.settlement.adjusted": _l("按抖音结算金额调整了 %(thing)s"),
    "ledger.settlement.posted": _l("完成了一批结算"),
    "ledger.withdrawal.finished": _l("提现结果：%(thing)s"),
    "ledger.withdrawal.requested": _l("申请了%(thing)s"),
    "onboarding.account.bound": _l("绑定了抖音来客账号"),
    "onboarding.app.disabled": _l("关闭了抖音推广"),
    "onboarding.app.enabled": _l("开启了抖音推广"),
    "onboarding.full_shelf.confirmed": _l("确认了 POI 货架全量展示验收问卷"),
    "onboarding.ka.confirmed": _l("确认已申请 KA 三方码能力包"),
    "onboarding.keys.generated": _l("生成了应用密钥"),
    "onboarding.licence.uploaded": _l("上传了营业执照"),
    "onboarding.licence.watermarked": _l("给营业执照加盖了水印"),
    "onboarding.miniapp.authorized": _l("授权了抖音小程序"),
    "onboarding.payment.checked": _l("刷新了支付进件状态"),
    "onboarding.payment.configured": _l("保存了支付设置"),
    "onboarding.review.decided": _l("收到小程序审核结果"),
    "onboarding.review.submitted": _l("提交了小程序审核"),
    "onboarding.secret.verified": _l("配置并校验了 AppSecret"),
    "onboarding.shelf_block.confirmed": _l("确认了 POI 货架展示屏蔽申请问卷"),
    "onboarding.store.authorized": _l("授权了门店 %(thing)s"),
    "onboarding.trade.connected": _l("接入了交易系统"),
    "orders.order.created": _l("收到新订单 %(thing)s"),
    "orders.laike_order.created": _l("收到抖音来客订单 %(thing)s"),
    "orders.order.completed_from_query": _l("从抖音补全了订单 %(thing)s"),
    "orders.shipping.updated": _l("更新了订单 %(thing)s 的发货状态"),
    "orders.voucher.verified": _l("在抖音核销了 %(thing)s"),
    "redemption.export.created": _l("生成了 %(thing)s"),
    "redemption.export.phones_shown": _l("下载了 %(thing)s（含完整手机号）"),
    "redemption.product.paused": _l("因异常规则暂停了商品 %(thing)s"),
    "redemption.product.resumed": _l("恢复销售商品 %(thing)s"),
    "redemption.review.decided": _l("审核了 %(thing)s"),
    "redemption.review.opened": _l("提交店主审核：%(thing)s"),
    "redemption.voucher.redeemed": _l("核销了 %(thing)s"),
    "redemption.voucher.undone": _l("撤销了核销 %(thing)s"),
    "settings.booking.made": _l("收到一个预约"),
    "settings.booking_slot.added": _l("添加了预约时段 %(label)s"),
    "settings.booking_slot.removed": _l("删除了预约时段 %(label)s"),
    "settings.callback.contacted": _l("回访了 %(thing)s 的顾客"),
    "settings.content.registered": _l("登记了推广内容 %(tracking_code)s"),
    "settings.followup.saved": _l("保存了支付后消息设置"),
    "settings.linked_account.bound": _l("绑定了关联账号 %(account_id)s"),
    "settings.linked_account.renamed": _l("修改了关联账号名称"),
    "settings.linked_account.unbound": _l("解绑了关联账号 %(account_id)s"),
    "settings.notification.switched": _l("修改了通知开关"),
    "settings.shop.renamed": _l("把店名改为 %(after)s"),
    "settings.store.updated": _l("修改了门店 %(thing)s"),
}


class FilterError(ValueError):
    """A filter that cannot be applied; `field` names the form field."""

    def __init__(self, message, field: str):
        super().__init__(str(message))
        self.field = field


@dataclass(frozen=True)
class Line:
    at: datetime
    who: str
    sentence: str
    group: str
    code: str


def _names_products(ids):
    from portal.catalog.models import Product

    return {str(p.id): f"「{p.name}」" for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}


def _voucher_text(voucher) -> str:
    from portal.redemption.service import customer_code

    code = customer_code(voucher)
    title = voucher.item.title if voucher.item else ""
    tail = _("券码 …%(tail)s", tail=code[-4:]) if code else ""
    return f"{title}（{tail}）" if title and tail else (title or tail)


def _names_vouchers(ids):
    from portal.orders.models import Voucher

    rows = db.session.scalars(select(Voucher).where(Voucher.id.in_(ids)).options(joinedload(Voucher.item)))
    return {str(v.id): _voucher_text(v) for v in rows}


def _names_cases(ids):
    from portal.orders.models import Voucher
    from portal.redemption.models import ReviewCase

    cases = list(db.session.scalars(select(ReviewCase).where(ReviewCase.id.in_(ids))))
    vouchers = {v.id: v for v in db.session.scalars(select(Voucher).where(Voucher.id.in_({c.voucher_id for c in cases} or {0})).options(joinedload(Voucher.item)))}
    return {str(c.id): _voucher_text(vouchers[c.voucher_id]) for c in cases if c.voucher_id in vouchers}


def _names_orders(ids):
    from portal.orders.models import Order

    return {str(o.id): o.douyin_order_id or o.out_order_no for o in db.session.scalars(select(Order).where(Order.id.in_(ids)))}


def _names_by_order(model):
    def names(ids):
        from portal.orders.models import Order

        rows = db.session.execute(select(model.id, Order.douyin_order_id).join(Order, Order.id == model.order_id).where(model.id.in_(ids))).all()
        return {str(row_id): _("订单 %(no)s", no=number) for row_id, number in rows}

    return names


def _names_withdrawals(ids):
    from portal.ledger.models import Withdrawal

    return {str(w.id): _("提现 %(amount)s", amount=money.format_fen(w.amount_fen)) for w in db.session.scalars(select(Withdrawal).where(Withdrawal.id.in_(ids)))}


def _names_refunds(ids):
    from portal.ledger.models import RefundRequest

    rows = db.session.scalars(select(RefundRequest).where(RefundRequest.id.in_(ids)))
    return {str(r.id): _("订单 %(no)s 的 %(amount)s", no=r.douyin_order_id, amount=money.format_fen(r.amount_fen)) for r in rows}


def _names_stores(ids):
    from portal.accounts.models import Store

    return {str(s.id): s.name for s in db.session.scalars(select(Store).where(Store.id.in_(ids)))}


def _names_members(ids):
    from portal.accounts.models import Membership

    rows = db.session.scalars(select(Membership).where(Membership.id.in_(ids)).options(joinedload(Membership.user)))
    return {str(m.id): m.user.display_name for m in rows}


def _names_exports(ids):
    from portal.redemption.models import ExportFile

    rows = db.session.scalars(select(ExportFile).where(ExportFile.id.in_(ids)).options(joinedload(ExportFile.store)))
    return {str(f.id): _("%(store)s %(day)s 的核销日报", store=f.store.name if f.store else "", day=f.day.isoformat()) for f in rows}


def _resolvers():
    from portal.ledger.models import LedgerOrder
    from portal.settings.models import CallbackTask

    return {
        "Product": _names_products, "Voucher": _names_vouchers, "ReviewCase": _names_cases, "Order": _names_orders,
        "LedgerOrder": _names_by_order(LedgerOrder), "CallbackTask": _names_by_order(CallbackTask), "Withdrawal": _names_withdrawals,
        "RefundRequest": _names_refunds, "Store": _names_stores, "Membership": _names_members, "ExportFile": _names_exports,
    }


def _things(entries) -> dict[tuple[str, str], str]:
    wanted: dict[str, set[int]] = defaultdict(set)
    for e in entries:
        if e.object_id and e.object_id.isdigit():
            wanted[e.object_type].add(int(e.object_id))
    found = {}
    resolvers = _resolvers()
    for kind, ids in wanted.items():
        if kind in resolvers:
            found.update({(kind, key): text for key, text in resolvers[kind](ids).items()})
    return found


def _predicate(entry: AuditEntry, thing: str) -> str:
    payload = entry.payload or {}
    template = DID.get(entry.code)
    if template is None:
        return _("进行了操作 %(code)s", code=entry.code)
    values = defaultdict(str, {k: messages.render(v) for k, v in payload.items()})
    values["thing"] = thing or "—"
    if "amount_fen" in payload:
        values["amount"] = money.format_fen(int(payload["amount_fen"]))
    if entry.code == "catalog.product.online_changed":
        template = _l("上架了商品 %(thing)s") if payload.get("online") else _l("下架了商品 %(thing)s")
    elif entry.code == "ledger.refund.decided":
        template = _l("同意了退款申请 %(thing)s") if payload.get("approve") else _l("拒绝了退款申请 %(thing)s")
    elif entry.code == "redemption.review.decided":
        template = _l("审核通过了 %(thing)s") if payload.get("approve") else _l("驳回了 %(thing)s")
    elif entry.code == "ledger.withdrawal.finished":
        template = _l("%(thing)s 已到账") if payload.get("success") else _l("%(thing)s 失败，款项已退回")
    did = str(template) % values
    # A reason is a message (shown in the reader's language) or what a person or Douyin typed.
    return _("%(did)s：%(reason)s", did=did, reason=values["reason"]) if values["reason"] else did


def sentences(entries) -> list[Line]:
    """Each entry as a sentence: who, when (local time), did what to which object."""
    things = _things(entries)
    lines = []
    for e in entries:
        who = e.actor.display_name if e.actor else _("系统")
        at = clock.local_text(e.at, "%m-%d %H:%M")
        did = _predicate(e, things.get((e.object_type, e.object_id), ""))
        group = e.code.split(".", 1)[0]
        lines.append(Line(e.at, who, _("%(who)s 于 %(at)s %(did)s", who=who, at=at, did=did), str(GROUPS.get(group, group)), e.code))
    return lines


def actors(organization_id: int) -> list[tuple[int, str]]:
    """Everyone who has an entry in the organization's log, for the 'who' filter."""
    from portal.accounts.models import User

    rows = db.session.execute(
        select(User.id, User.name, User.email).where(User.id.in_(
            select(AuditEntry.actor_id).where(AuditEntry.organization_id == organization_id, AuditEntry.actor_id.is_not(None)).distinct()
        )).order_by(User.id)
    ).all()
    return [(user_id, name or email) for user_id, name, email in rows]


def search(organization_id: int, *, who: str = "", group: str = "", day_from: date | None = None, day_to: date | None = None,
           limit: int | None = 200) -> list[AuditEntry]:
    """The organization's entries, newest first, filtered: `who` a user id or "system", `group` a
    key of GROUPS, days in local time (both inclusive). Raises FilterError for an impossible range."""
    if day_from and day_to and day_from > day_to:
        raise FilterError(_l("开始日期不能晚于结束日期"), "day_from")
    stmt = select(AuditEntry).where(AuditEntry.organization_id == organization_id).options(joinedload(AuditEntry.actor))
    if who == "system":
        stmt = stmt.where(AuditEntry.actor_id.is_(None))
    elif who:
        stmt = stmt.where(AuditEntry.actor_id == int(who))
    if group:
        stmt = stmt.where(AuditEntry.code.like(f"{group}.%"))
    if day_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(day_from, time(0), tzinfo=clock.SHANGHAI))
    if day_to:
        stmt = stmt.where(AuditEntry.at < datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=clock.SHANGHAI))
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt).unique())
