"""The daily Excel per store: yesterday's redemptions (long-cycle ones flagged) and the
follow-up list of paid vouchers still unused after a day."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import audit, clock
from portal.accounts.models import Store, User
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders import service as orders
from portal.orders.models import Order, OrderItem, Voucher, VoucherStatus
from portal.redemption.models import ExportFile

LONG_CYCLE_MINUTES = 1440
FOLLOW_UP_AFTER = timedelta(days=1)

REDEMPTION_HEADERS = ("核销时间", "券码", "商品", "抖音订单号", "买家手机", "支付时间", "核销人", "支付到核销（分钟）", "长周期核销")
FOLLOW_UP_HEADERS = ("券码", "商品", "抖音订单号", "买家手机", "支付时间", "有效期至", "已等待（天）")


def _local_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)
    return start, start + timedelta(days=1)


def _fmt(value: datetime) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M")


def redemptions_of(store: Store, day: date) -> list[Voucher]:
    start, end = _local_bounds(day)
    return list(
        db.session.scalars(
            select(Voucher)
            .where(Voucher.redeemed_store_id == store.id, Voucher.status == VoucherStatus.REDEEMED, Voucher.redeemed_at >= start, Voucher.redeemed_at < end)
            .options(joinedload(Voucher.order), joinedload(Voucher.item))
            .order_by(Voucher.redeemed_at, Voucher.id)
        )
    )


def follow_ups_of(store: Store, now: datetime) -> list[Voucher]:
    """Unused, still valid vouchers usable at this store, paid more than a day ago."""
    candidates = db.session.scalars(
        select(Voucher)
        .join(Order, Voucher.order_id == Order.id)
        .where(
            Voucher.organization_id == store.organization_id,
            Voucher.status == VoucherStatus.UNUSED,
            Voucher.valid_until >= now,
            Order.paid_at < now - FOLLOW_UP_AFTER,
        )
        .options(joinedload(Voucher.order), joinedload(Voucher.item).joinedload(OrderItem.product))
        .order_by(Order.paid_at, Voucher.id)
    )
    return [v for v in candidates if orders.valid_at(v, store.id)]


def build_workbook(store: Store, day: date, now: datetime) -> tuple[bytes, dict]:
    book = Workbook()
    sheet = book.active
    sheet.title = "核销明细"
    sheet.append(REDEMPTION_HEADERS)
    flag = PatternFill("solid", fgColor="FFF3CD")
    users = {}
    long_cycle = 0
    vouchers = redemptions_of(store, day)
    for voucher in vouchers:
        if voucher.redeemed_by_id not in users:
            user = db.session.get(User, voucher.redeemed_by_id) if voucher.redeemed_by_id else None
            users[voucher.redeemed_by_id] = user.display_name if user else ""
        minutes = int((voucher.redeemed_at - voucher.order.paid_at).total_seconds() // 60)
        is_long = minutes > LONG_CYCLE_MINUTES
        long_cycle += is_long
        sheet.append(
            (
                _fmt(voucher.redeemed_at),
                voucher.code,
                voucher.item.title if voucher.item else "",
                voucher.order.douyin_order_id,
                orders.mask_phone(voucher.order.buyer_phone),
                _fmt(voucher.order.paid_at),
                users[voucher.redeemed_by_id],
                minutes,
                "是" if is_long else "否",
            )
        )
        if is_long:
            for cell in sheet[sheet.max_row]:
                cell.fill = flag

    follow = book.create_sheet("待跟进")
    follow.append(FOLLOW_UP_HEADERS)
    pending = follow_ups_of(store, now)
    for voucher in pending:
        follow.append(
            (
                voucher.code,
                voucher.item.title if voucher.item else "",
                voucher.order.douyin_order_id,
                orders.mask_phone(voucher.order.buyer_phone),
                _fmt(voucher.order.paid_at),
                clock.to_local(voucher.valid_until).strftime("%Y-%m-%d"),
                (now - voucher.order.paid_at).days,
            )
        )
    for ws in (sheet, follow):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = 20
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), {"redemptions": len(vouchers), "long_cycle": long_cycle, "follow_ups": len(pending)}


def for_reader(file: ExportFile, *, may_call: bool, actor=None) -> bytes:
    """The file as one reader may see it. It is stored with buyers' phones masked; a reader who
    may call buyers back (the call-back list's roles) gets the 待跟进 sheet with full numbers, and
    the audit log records who saw how many. Anyone else gets the masked file."""
    if not may_call:
        return file.content
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(file.content))
    follow = book["待跟进"]
    codes = [row[0].value for row in follow.iter_rows(min_row=2) if row[0].value]
    phones = dict(db.session.execute(
        select(Voucher.code, Order.buyer_phone).join(Order, Voucher.order_id == Order.id)
        .where(Voucher.organization_id == file.organization_id, Voucher.code.in_(codes or [""]))
    ).all())
    shown = 0
    column = FOLLOW_UP_HEADERS.index("买家手机")
    for row in follow.iter_rows(min_row=2):
        phone = phones.get(row[0].value)
        if phone:
            row[column].value = phone
            shown += 1
    audit.record("redemption.export.phones_shown", actor=actor, obj=file, day=file.day.isoformat(), store_id=file.store_id, phones=shown)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_store_day(store: Store, day: date, *, actor=None, now: datetime) -> ExportFile:
    """Build (or rebuild) one store's file for one day; idempotent per (store, day)."""
    content, counts = build_workbook(store, day, now)
    export = db.session.scalar(select(ExportFile).where(ExportFile.store_id == store.id, ExportFile.day == day))
    if export is None:
        export = ExportFile(organization_id=store.organization_id, store_id=store.id, day=day)
        db.session.add(export)
    export.filename = f"核销日报_{store.name}_{day.isoformat()}.xlsx"
    export.content = content
    export.redemption_count = counts["redemptions"]
    export.long_cycle_count = counts["long_cycle"]
    export.follow_up_count = counts["follow_ups"]
    export.created_by_id = getattr(actor, "id", None)
    export.created_at = now
    db.session.flush()
    audit.record("redemption.export.created", actor=actor, obj=export, store_id=store.id, day=day.isoformat(), **counts)
    return export


def previous_day(now: datetime) -> date:
    return clock.to_local(now).date() - timedelta(days=1)


def stores_to_export() -> list[int]:
    """Every store of every merchant that has received an order."""
    with_orders = select(Order.organization_id).distinct()
    return list(db.session.scalars(select(Store.id).where(Store.organization_id.in_(with_orders)).order_by(Store.id)))


DAY_LABEL = _l("核销日报")
