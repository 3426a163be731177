"""The daily Excel: yesterday's redemptions per store, long-cycle flag, follow-up list."""

import io
from datetime import date, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from portal.redemption import export, service
from portal.redemption.models import ExportFile


def test_the_export_lists_yesterdays_redemptions_cell_by_cell(db, org, clerk, shop, clock):
    store = org.stores[0]
    product = shop.product(org, name="火锅", stores=[store])
    old = shop.paid(org, product, phone="13811112222")  # paid 2026-11-20 10:00 Shanghai
    fresh_and_waiting = shop.paid(org, product, phone="13833334444")
    clock.advance(days=1, hours=1)  # 2026-11-21 11:00: 1500 minutes after payment
    quick = shop.paid(org, product, phone="13855556666")
    clock.advance(minutes=30)
    service.redeem(store, old.vouchers[0].code, nonce="a", actor=clerk, now=clock.now())
    service.redeem(store, quick.vouchers[0].code, nonce="b", actor=clerk, now=clock.now())
    clock.advance(days=1)  # the 10:00 run of 2026-11-22 exports the 21st
    day = export.previous_day(clock.now())
    assert day == date(2026, 11, 21)
    file = export.export_store_day(store, day, now=clock.now())

    book = load_workbook(io.BytesIO(file.content))
    rows = [[c.value for c in row] for row in book["核销明细"].iter_rows()]
    assert rows[0] == list(export.REDEMPTION_HEADERS)
    assert rows[1:] == [
        ["2026-11-21 11:30", old.vouchers[0].code, product.name, old.douyin_order_id, "138****2222", "2026-11-20 10:00", clerk.display_name, 1530, "是"],
        ["2026-11-21 11:30", quick.vouchers[0].code, product.name, quick.douyin_order_id, "138****6666", "2026-11-21 11:00", clerk.display_name, 30, "否"],
    ]
    follow = [[c.value for c in row] for row in book["待跟进"].iter_rows()]
    assert follow[0] == list(export.FOLLOW_UP_HEADERS)
    assert follow[1:] == [
        [fresh_and_waiting.vouchers[0].code, product.name, fresh_and_waiting.douyin_order_id, "138****4444", "2026-11-20 10:00", "2027-02-18", 2],
    ]
    assert (file.redemption_count, file.long_cycle_count, file.follow_up_count) == (2, 1, 1)

    # Stored masked; a reader who may call buyers back gets the full number, and it is audited.
    from portal.audit import AuditEntry

    assert export.for_reader(file, may_call=False) == file.content
    full = load_workbook(io.BytesIO(export.for_reader(file, may_call=True, actor=clerk)))
    assert [[c.value for c in row] for row in full["待跟进"].iter_rows(min_row=2)][0][3] == fresh_and_waiting.buyer_phone
    assert full["核销明细"].cell(row=2, column=5).value == "138****2222"  # the redemptions keep the mask
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.code == "redemption.export.phones_shown"))
    assert entry.actor_id == clerk.id and entry.payload["phones"] == 1


def test_another_stores_redemptions_are_not_in_the_file(db, org, clerk, shop, clock):
    product = shop.product(org)  # valid everywhere
    order = shop.paid(org, product)
    service.redeem(org.stores[1], order.vouchers[0].code, nonce="x", actor=clerk, now=clock.now())
    clock.advance(days=1)
    file = export.export_store_day(org.stores[0], export.previous_day(clock.now()), now=clock.now())
    assert file.redemption_count == 0
    assert load_workbook(io.BytesIO(file.content))["核销明细"].max_row == 1


def test_the_daily_job_writes_one_file_per_store_and_rerunning_replaces_it(app, db, org, shop, clock):
    from portal.jobs import bind_app
    from portal.jobs.export import run_daily_exports

    shop.paid(org, shop.product(org))
    bind_app(app)
    assert run_daily_exports() >= 2
    run_daily_exports()
    files = db.session.scalars(select(ExportFile).where(ExportFile.organization_id == org.id)).all()
    assert sorted(f.store_id for f in files) == [s.id for s in org.stores]
    assert {f.day for f in files} == {date(2026, 11, 19)}


def test_the_daily_export_is_scheduled_at_ten_shanghai(clock):
    from datetime import UTC, datetime

    from portal import schedule

    entry = schedule.PERIODIC["redemption-daily-export"]
    assert entry.func == "portal.jobs.export.run_daily_exports"
    assert entry.next_slot(datetime(2026, 11, 20, 1, 0, tzinfo=UTC)) == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert entry.next_slot(datetime(2026, 11, 20, 2, 0, tzinfo=UTC)) == datetime(2026, 11, 21, 2, 0, tzinfo=UTC) - timedelta(0)
