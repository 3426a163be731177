"""Twenty phones confirm one code at once: exactly one success, nineteen "already redeemed".

On PostgreSQL this runs with real connections and threads against committed rows (the rolled
back `db` fixture shares one connection, so it cannot race). On SQLite, which serialises writers,
the same guarantee is checked with the confirms one after another.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from portal import clock
from portal.accounts import service as accounts
from portal.accounts.models import Organization, Role, Store, User
from portal.extensions import db as _db
from portal.orders.models import Voucher, VoucherStatus
from portal.redemption import service
from portal.redemption.models import Outcome, Reason, RedemptionAttempt
from tests.fixtures.orders import OrderFactory

IS_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
PHONES = 20


def purge_organization(org_id: int, user_ids: list[int]) -> None:
    """Delete everything an organization owns, children first (tables without an
    organization_id go through their parent's)."""
    connection = _db.session.connection()
    for table in reversed(_db.metadata.sorted_tables):
        if table.name == "organizations":
            continue
        if "organization_id" in table.c:
            connection.execute(table.delete().where(table.c.organization_id == org_id))
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name == "organizations":
                connection.execute(table.delete().where(fk.parent == org_id))
            elif "organization_id" in parent.c:
                connection.execute(table.delete().where(fk.parent.in_(select(parent.c.id).where(parent.c.organization_id == org_id))))
    connection.execute(Organization.__table__.delete().where(Organization.__table__.c.id == org_id))
    connection.execute(User.__table__.delete().where(User.__table__.c.id.in_(user_ids)))
    _db.session.commit()


@pytest.fixture
def committed(app):
    """A merchant, a clerk per phone and one paid voucher, committed for real; deleted after."""
    with app.app_context(), app.test_request_context():
        org = accounts.create_organization("并发商户")
        store = accounts.create_store(org, "并发门店")
        clerks = []
        for n in range(PHONES):
            user = accounts.create_user(f"race{n}-{os.getpid()}@example.test", None, name=f"店员{n}")
            accounts.add_membership(user, org, Role.CLERK, store)
            clerks.append(user)
        factory = OrderFactory()
        voucher = factory.paid(org, factory.product(org, stores=[store])).vouchers[0]
        _db.session.commit()
        ids = {"org": org.id, "store": store.id, "clerks": [u.id for u in clerks], "code": voucher.code, "voucher": voucher.id}
        _db.session.remove()
    yield ids
    with app.app_context():
        purge_organization(ids["org"], ids["clerks"])
        _db.session.remove()


def confirm(app, ids, n, barrier, results):
    with app.app_context(), app.test_request_context():
        store = _db.session.get(Store, ids["store"])
        clerk = _db.session.get(User, ids["clerks"][n])
        # Hand the connection back before waiting: 20 threads must not need 20 pooled connections at once.
        _db.session.commit()
        barrier.wait(timeout=60)
        result = service.redeem(store, ids["code"], nonce=f"phone-{n}", actor=clerk, now=clock.now())
        _db.session.commit()
        results.append((result.outcome, result.reason, result.detail))
        _db.session.remove()


if IS_POSTGRES:

    @pytest.mark.postgres_only
    def test_twenty_phones_at_once_give_one_success_and_nineteen_already_redeemed(app, committed):
        barrier = threading.Barrier(PHONES)
        results: list = []
        threads = [threading.Thread(target=confirm, args=(app, committed, n, barrier, results)) for n in range(PHONES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        outcomes = Counter((outcome, reason) for outcome, reason, _ in results)
        assert outcomes == {(Outcome.SUCCESS, ""): 1, (Outcome.REJECTED, Reason.ALREADY_REDEEMED): PHONES - 1}
        with app.app_context():
            voucher = _db.session.get(Voucher, committed["voucher"])
            assert voucher.status == VoucherStatus.REDEEMED
            winner = _db.session.get(User, voucher.redeemed_by_id).display_name
            assert all(winner in detail for outcome, _, detail in results if outcome == Outcome.REJECTED)
            logged = _db.session.scalars(select(RedemptionAttempt.outcome).where(RedemptionAttempt.organization_id == committed["org"])).all()
            assert Counter(logged) == {Outcome.SUCCESS: 1, Outcome.REJECTED: PHONES - 1}
            _db.session.remove()

    @pytest.mark.postgres_only
    def test_the_same_nonce_from_many_threads_redeems_once(app, committed):
        barrier = threading.Barrier(8)
        results: list = []

        def same_nonce(n):
            with app.app_context(), app.test_request_context():
                store = _db.session.get(Store, committed["store"])
                clerk = _db.session.get(User, committed["clerks"][0])
                _db.session.commit()
                barrier.wait(timeout=60)
                result = service.redeem(store, committed["code"], nonce="double-tap", actor=clerk, now=clock.now())
                _db.session.commit()
                results.append(result.outcome)
                _db.session.remove()

        threads = [threading.Thread(target=same_nonce, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results == [Outcome.SUCCESS] * 8
        with app.app_context():
            logged = _db.session.scalars(select(RedemptionAttempt.outcome).where(RedemptionAttempt.organization_id == committed["org"])).all()
            assert logged == [Outcome.SUCCESS]
            _db.session.remove()

else:

    def test_twenty_confirms_in_a_row_give_one_success_and_nineteen_already_redeemed(db, org, accounts, shop, clock):
        store = org.stores[0]
        voucher = shop.paid(org, shop.product(org, stores=[store])).vouchers[0]
        clerks = [accounts.user(Role.CLERK, org, store) for _ in range(PHONES)]
        results = [service.redeem(store, voucher.code, nonce=f"phone-{n}", actor=clerk, now=clock.now()) for n, clerk in enumerate(clerks)]
        assert Counter((r.outcome, r.reason) for r in results) == {(Outcome.SUCCESS, ""): 1, (Outcome.REJECTED, Reason.ALREADY_REDEEMED): PHONES - 1}
        assert all(clerks[0].display_name in r.detail for r in results[1:])
