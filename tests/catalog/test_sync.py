"""刷新列表 against a mocked Douyin: paging, rate limits, outages, partial failure, idempotence,
conflicts, review results, and a worker killed half-way."""

import pytest
from sqlalchemy import func, select

from portal.catalog import service, sync
from portal.catalog.models import Product, ProductConflict, ReviewStatus, SyncChange, SyncRun, SyncStatus
from portal.jobs.sync import run_catalog_sync
from portal.notifications import Notification
from tests.fixtures.catalog import WorkerKilled


def state(db, org):
    rows = db.session.execute(
        select(Product.id, Product.name, Product.price_fen, Product.review_status, Product.review_reason, Product.douyin_online)
        .where(Product.organization_id == org.id).order_by(Product.id)
    ).all()
    return [tuple(r) for r in rows]


def start(org, owner):
    run, started = sync.start_sync_run(org.id, actor=owner)
    return run


def library(catalog, goods_api, owner, n):
    return [catalog.approved(goods_api, actor=owner, name=f"套餐{i:03d}") for i in range(n)]


def test_sync_pages_through_douyin_fifty_at_a_time(db, org, owner, catalog, goods_api, no_sleep):
    products = library(catalog, goods_api, owner, 120)
    for p in products[::10]:
        goods_api.change(p.douyin_product_id, online_status=0)
    run = sync.run_sync(start(org, owner).id)
    online_calls = [params for name, params in goods_api.calls if name == "online"]
    assert [c.get("cursor") for c in online_calls] == [None, "50", "100"]
    assert all(int(c["count"]) <= 50 for c in online_calls)
    assert run.status == SyncStatus.SUCCEEDED and run.seen == 120 and run.pages == 3
    assert run.changed == 12 and run.active_org_id is None
    assert sum(1 for p in products if not p.douyin_online) == 12


def test_rate_limit_429_waits_as_told_and_continues(db, org, owner, catalog, goods_api, no_sleep):
    library(catalog, goods_api, owner, 60)
    goods_api.faults["50"] = [429, 429, 429, 429, 429]  # more than the client's own retries
    run = sync.run_sync(start(org, owner).id)
    assert run.status == SyncStatus.SUCCEEDED and run.seen == 60
    assert no_sleep.count(1.0) >= 5  # Retry-After: 1 honoured on every 429


def test_server_errors_mid_run_are_retried(db, org, owner, catalog, goods_api, no_sleep):
    products = library(catalog, goods_api, owner, 80)
    goods_api.change(products[70].douyin_product_id, price=8800)
    goods_api.faults["50"] = [500, 502, 503]
    run = sync.run_sync(start(org, owner).id)
    assert run.status == SyncStatus.SUCCEEDED and run.errors == 0
    assert products[70].price_fen == 8800


def test_partial_failure_keeps_what_was_done_and_says_so(db, org, owner, catalog, goods_api, no_sleep):
    products = library(catalog, goods_api, owner, 80)
    goods_api.change(products[10].douyin_product_id, price=7700)
    goods_api.change(products[70].douyin_product_id, price=6600)
    goods_api.faults["50"] = [500] * 100
    run = sync.run_sync(start(org, owner).id, checkpoint=db.session.commit)
    assert run.status == SyncStatus.PARTIAL and run.pages == 1 and "500" in run.last_error
    assert run.active_org_id is None
    assert products[10].price_fen == 7700  # page 1 applied and kept
    assert products[70].price_fen == 9900  # page 2 never read
    assert products[70].douyin_online  # not wrongly marked missing after an incomplete listing
    goods_api.faults.clear()
    second = sync.run_sync(start(org, owner).id, checkpoint=db.session.commit)
    assert second.status == SyncStatus.SUCCEEDED and products[70].price_fen == 6600


def test_nothing_done_is_a_failed_run(db, org, owner, catalog, goods_api, no_sleep):
    library(catalog, goods_api, owner, 3)
    goods_api.faults["0"] = [500] * 100
    run = sync.run_sync(start(org, owner).id)
    assert run.status == SyncStatus.FAILED and run.errors == 1


def test_rerun_is_idempotent(db, org, owner, catalog, goods_api, no_sleep):
    products = library(catalog, goods_api, owner, 30)
    goods_api.change(products[3].douyin_product_id, name="改名套餐")
    goods_api.change(products[4].douyin_product_id, online_status=0)
    first = sync.run_sync(start(org, owner).id)
    after_first = state(db, org)
    second = sync.run_sync(start(org, owner).id)
    assert first.changed == 2 and second.changed == 0 and second.conflicts == 0
    assert state(db, org) == after_first
    assert db.session.scalar(select(func.count()).select_from(SyncChange).where(SyncChange.run_id == second.id)) == 0
    assert sync.run_sync(first.id).status == SyncStatus.SUCCEEDED  # a finished run is left alone


def test_douyin_change_without_local_edit_is_applied_and_recorded(db, org, owner, catalog, goods_api, no_sleep):
    product = catalog.approved(goods_api, actor=owner)
    goods_api.change(product.douyin_product_id, price=8800, name="新名字")
    run = sync.run_sync(start(org, owner).id)
    assert product.price_fen == 8800 and product.name == "新名字"
    change = db.session.scalar(select(SyncChange).where(SyncChange.run_id == run.id))
    assert change.action == "updated" and change.fields["price_fen"] == [9900, 8800]
    assert service.find_open_conflict(product) is None


def test_local_edit_after_last_sync_is_never_overwritten(db, org, owner, catalog, goods_api, no_sleep):
    product = catalog.approved(goods_api, actor=owner)
    data = catalog.data(name="本地新名字", price_fen=9500)
    service.update_product(product, data, actor=owner)
    goods_api.change(product.douyin_product_id, price=8800)
    run = sync.run_sync(start(org, owner).id)
    assert product.price_fen == 9500 and product.name == "本地新名字"
    conflict = service.find_open_conflict(product)
    assert conflict.local_version["price_fen"] == 9500 and conflict.douyin_version["price_fen"] == 8800
    assert run.conflicts == 1
    again = sync.run_sync(start(org, owner).id)
    assert again.conflicts == 0 and product.price_fen == 9500
    assert db.session.scalar(select(func.count()).select_from(ProductConflict)) == 1
    service.resolve_conflict(conflict, "douyin", actor=owner)
    assert product.price_fen == 8800 and conflict.resolution == "douyin"
    third = sync.run_sync(start(org, owner).id)
    assert third.changed == 0 and third.conflicts == 0


def test_keeping_the_local_version_resubmits_it(db, org, owner, catalog, goods_api, no_sleep):
    product = catalog.approved(goods_api, actor=owner)
    service.update_product(product, catalog.data(price_fen=9500), actor=owner)
    goods_api.change(product.douyin_product_id, price=8800)
    sync.run_sync(start(org, owner).id)
    service.resolve_conflict(service.find_open_conflict(product), "local", actor=owner)
    assert product.price_fen == 9500 and product.review_status == ReviewStatus.REVIEWING
    assert service.find_open_conflict(product) is None


def test_local_edit_with_unchanged_douyin_is_not_a_conflict(db, org, owner, catalog, goods_api, no_sleep):
    product = catalog.approved(goods_api, actor=owner)
    service.update_product(product, catalog.data(price_fen=9500), actor=owner)
    run = sync.run_sync(start(org, owner).id)
    assert run.conflicts == 0 and product.price_fen == 9500


def test_our_own_resubmission_approved_is_not_a_conflict(db, org, owner, catalog, goods_api, no_sleep, clock):
    product = catalog.approved(goods_api, actor=owner)
    service.update_product(product, catalog.data(price_fen=9500), actor=owner)
    service.submit_product(product, actor=owner)
    clock.advance(minutes=1)
    goods_api.change(product.douyin_product_id, price=9500, name=product.submitted_version["name"], draft_status=1)
    service.update_product(product, catalog.data(price_fen=9400), actor=owner)  # edited again meanwhile
    run = sync.run_sync(start(org, owner).id)
    assert run.conflicts == 0 and product.price_fen == 9400
    assert product.review_status == ReviewStatus.APPROVED


def test_sync_learns_a_rejection_of_a_never_approved_product(db, org, owner, catalog, goods_api, no_sleep, clock):
    product = catalog.product(owner)
    service.submit_product(product, actor=owner)
    from portal import outbox

    message = db.session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.kind == service.SAVE_KIND))
    outbox.deliver(message.id)
    clock.advance(minutes=5)
    goods_api.reject(product.douyin_product_id, "类目与内容不符")
    run = sync.run_sync(start(org, owner).id)
    assert [c[0] for c in goods_api.calls if c[0] == "draft_get"] == ["draft_get"]
    assert product.review_status == ReviewStatus.REJECTED and product.review_reason == "类目与内容不符"
    assert run.changed == 1
    assert db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "product_review")) == 1
    sync.run_sync(start(org, owner).id)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "product_review")) == 1


def test_status_from_before_our_submission_reaches_douyin_is_not_applied(db, org, owner, catalog, goods_api, no_sleep, clock):
    product = catalog.approved(goods_api, actor=owner)
    clock.advance(minutes=5)
    service.update_product(product, catalog.data(price_fen=9500), actor=owner)
    service.submit_product(product, actor=owner)  # still in the outbox: Douyin says "approved" (old)
    sync.run_sync(start(org, owner).id)
    assert product.review_status == ReviewStatus.REVIEWING


def test_product_gone_from_douyin_is_marked_offline_there(db, org, owner, catalog, goods_api, no_sleep):
    kept, gone = library(catalog, goods_api, owner, 2)
    del goods_api.products[gone.douyin_product_id]
    run = sync.run_sync(start(org, owner).id)
    assert not gone.douyin_online and kept.douyin_online
    assert db.session.scalar(select(SyncChange.action).where(SyncChange.run_id == run.id)) == "missing"


def test_douyin_product_unknown_here_is_reported(db, org, owner, catalog, goods_api, no_sleep):
    goods_api.put(name="来客后台建的商品")
    run = sync.run_sync(start(org, owner).id)
    change = db.session.scalar(select(SyncChange).where(SyncChange.run_id == run.id))
    assert change.action == "unmatched" and change.name == "来客后台建的商品"


def test_double_click_is_one_run_and_one_job(db, org, owner, catalog, goods_api, queue):
    first, started = sync.start_sync_run(org.id, actor=owner)
    second, started_again = sync.start_sync_run(org.id, actor=owner)
    db.session.commit()
    assert first.id == second.id and started and not started_again
    assert queue.job_funcs() == ["portal.jobs.sync.run_catalog_sync"]


def test_not_connected_merchant_gets_a_failed_run_with_the_reason(db, org, owner):
    run = sync.run_sync(start(org, owner).id)
    assert run.status == SyncStatus.FAILED and "抖音" in run.last_error


def test_worker_killed_mid_run_then_rerun_ends_in_the_same_state(app, db, org, owner, catalog, goods_api, no_sleep, queue, clock, monkeypatch):
    from portal import jobs

    jobs.bind_app(app)
    products = library(catalog, goods_api, owner, 130)
    for p in products[::7]:
        goods_api.change(p.douyin_product_id, price=p.price_fen - 100)
    for p in products[3::11]:
        goods_api.change(p.douyin_product_id, online_status=0)
    expected = {p.douyin_product_id: (goods_api.products[p.douyin_product_id]["sku"]["actual_amount"],
                                      goods_api.products[p.douyin_product_id]["online_status"] == 1) for p in products}
    run = start(org, owner)
    db.session.commit()
    queue.clear()

    calls = {"n": 0}
    original = sync._Runner.reconcile

    def dies_half_way(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 75:  # in the middle of page 2
            raise WorkerKilled()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync._Runner, "reconcile", dies_half_way)
    with pytest.raises(WorkerKilled):
        run_catalog_sync(run.id)
    # The job's session was torn down mid-page: that page's half-applied changes never committed.
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.status == SyncStatus.RUNNING and run.pages == 1 and run.cursor == "50"
    assert products[56].price_fen == 9900 and products[7].price_fen == 9800  # page 2 not applied, page 1 kept

    monkeypatch.setattr(sync._Runner, "reconcile", original)
    clock.advance(minutes=3)
    again, started = sync.start_sync_run(org.id, actor=owner)  # the merchant clicks again
    db.session.commit()
    assert again.id == run.id and not started
    queue.run()
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.status == SyncStatus.SUCCEEDED and run.seen == 130 and run.attempts == 2
    got = {p.douyin_product_id: (p.price_fen, p.douyin_online) for p in db.session.scalars(select(Product).where(Product.organization_id == org.id))}
    assert got == expected
    per_product = db.session.execute(
        select(SyncChange.product_id, func.count()).where(SyncChange.run_id == run.id).group_by(SyncChange.product_id)
    ).all()
    assert all(n == 1 for _pid, n in per_product)
    assert len(per_product) == run.changed == len({p.id for p in products[::7]} | {p.id for p in products[3::11]})


def test_stale_runs_are_resumed_by_the_sweep(db, org, owner, catalog, goods_api, clock, queue):
    run = start(org, owner)
    run.status = SyncStatus.RUNNING
    db.session.commit()
    queue.clear()
    assert sync.resume_stale_runs() == []
    clock.advance(minutes=3)
    assert sync.resume_stale_runs() == [run.id]
    db.session.commit()
    assert queue.job_funcs() == ["portal.jobs.sync.run_catalog_sync"]


def test_a_runner_waiting_out_long_retry_afters_keeps_its_lease(db, org, owner, catalog, goods_api, clock, queue, monkeypatch):
    library(catalog, goods_api, owner, 60)
    goods_api.retry_after = "60"
    goods_api.faults["50"] = [429] * 8  # page 2 takes 8 minutes of Retry-After, past the old 2-minute limit
    run = start(org, owner)
    db.session.commit()
    queue.clear()
    meanwhile = []

    def sleeps(seconds):
        clock.advance(seconds=seconds)
        # While it waits: the sweep, a second worker given the same run, the merchant clicking again.
        meanwhile.append((tuple(sync.resume_stale_runs()), sync.run_sync(run.id, checkpoint=db.session.commit).attempts,
                          sync.start_sync_run(org.id, actor=owner)[1]))

    monkeypatch.setattr(sync, "_sleep", sleeps)
    done = sync.run_sync(run.id, checkpoint=db.session.commit)
    assert clock.now() - run.created_at >= sync.timedelta(minutes=8)
    assert meanwhile and set(meanwhile) == {((), 1, False)}
    assert queue.job_funcs() == []
    assert done.status == SyncStatus.SUCCEEDED and done.attempts == 1 and done.seen == 60 and done.pages == 2


def test_a_dead_runner_is_taken_over_once_its_lease_expires(db, org, owner, catalog, goods_api, no_sleep, clock, queue):
    products = library(catalog, goods_api, owner, 60)
    goods_api.change(products[55].douyin_product_id, price=5500)
    run = start(org, owner)
    db.session.commit()
    queue.clear()
    goods_api.kill_at = "50"
    with pytest.raises(WorkerKilled):
        sync.run_sync(run.id, checkpoint=db.session.commit)
    db.session.rollback()
    assert run.status == SyncStatus.RUNNING and run.pages == 1

    clock.advance(seconds=100)  # the lease may still be held: nobody else touches the run
    assert sync.run_sync(run.id, checkpoint=db.session.commit).attempts == 1
    assert sync.resume_stale_runs() == [] and run.pages == 1

    clock.advance(seconds=30)
    assert sync.resume_stale_runs() == [run.id]
    db.session.commit()
    assert sync.resume_stale_runs() == []  # queued once, not every minute
    queue.run()
    db.session.expire_all()
    assert run.status == SyncStatus.SUCCEEDED and run.attempts == 2 and run.seen == 60 and run.pages == 2
    assert products[55].price_fen == 5500


def test_a_runner_frozen_past_its_lease_writes_nothing_after_the_takeover(db, org, owner, catalog, goods_api, clock, queue, monkeypatch):
    products = library(catalog, goods_api, owner, 60)
    goods_api.change(products[55].douyin_product_id, price=5500)
    goods_api.faults["50"] = [429] * 4  # the client's own retries: sleeps inside one call
    run = start(org, owner)
    db.session.commit()
    queue.clear()
    frozen = []

    def freezes(seconds):
        if not frozen:  # the first runner stalls (a paused VM, a stuck GC) well past its lease...
            frozen.append(clock.advance(minutes=3))
            # ...the sweep queues the run again and a second runner does the rest.
            assert sync.resume_stale_runs() == [run.id]
            db.session.commit()
            queue.run()

    monkeypatch.setattr(sync, "_sleep", freezes)
    first = sync.run_sync(run.id, checkpoint=db.session.commit)
    assert frozen and first.status == SyncStatus.SUCCEEDED and first.attempts == 2
    assert first.pages == 2 and first.seen == 60 and first.changed == 1  # the stale runner's page 2 was not counted again
    changes = db.session.scalars(select(SyncChange).where(SyncChange.run_id == run.id)).all()
    assert [c.product_id for c in changes] == [products[55].id]
