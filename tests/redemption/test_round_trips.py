"""What the counter's two every-minute requests cost the database: statements per request.

A confirm of a redeemable local code is three statements on PostgreSQL: the signed-in user (with
the session check), the counter's read (the voucher, everything its rule needs and the booking
and incentive card beside the answer, the order's row locked) and the write (claim, attempt,
Douyin report, audit, order completion and the ledger's clock, as one statement). SQLite runs the
write's steps one by one (one writer at a time, in-process: no network between them). A lookup
is the user and the read on both.
"""

import os

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, func, select

from portal.audit import AuditEntry
from portal.ledger.models import LedgerOrder
from portal.orders.models import OrderStatus, VoucherStatus
from portal.outbox import OutboxMessage
from portal.redemption import service
from portal.redemption.models import Outcome, RedemptionAttempt

IS_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
CONFIRM_STATEMENTS = 3 if IS_POSTGRES else 8
LOOKUP_STATEMENTS = 2
# The test's own transaction wraps each request in a savepoint: not the request's work.
_HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def statements(db):
    """The statements the requests made inside the block send (the harness's savepoints left out)."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        seen = []

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(_HARNESS):
                seen.append(statement)

        connection = db.session.connection()
        event.listen(connection, "before_cursor_execute", on_execute)
        try:
            yield seen
        finally:
            event.remove(connection, "before_cursor_execute", on_execute)

    return counting


@pytest.fixture
def voucher(shop, org, clock):
    return shop.paid(org, shop.product(org, name="双人火锅", stores=[org.stores[0]]), phone="13812345678").vouchers[0]


def test_a_confirm_is_at_most_three_round_trips_and_keeps_every_effect(client, clerk, voucher, statements, db):
    client.login_as(clerk)
    data = {"code": voucher.code, "nonce": "round-trips", "store_id": voucher.order.store_id or ""}
    token = client.csrf_token()
    with statements() as seen:
        response = client.post("/counter/redeem", data={**data, "csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("#redemption-success") is not None
    assert len(seen) <= CONFIRM_STATEMENTS, "\n\n".join(seen)
    # Every effect of the confirm is there, from those statements.
    assert voucher.status == VoucherStatus.REDEEMED and voucher.order.status == OrderStatus.COMPLETED
    attempt = db.session.scalars(select(RedemptionAttempt).where(RedemptionAttempt.nonce == "round-trips")).one()
    assert attempt.outcome == Outcome.SUCCESS and attempt.voucher_id == voucher.id
    report = db.session.get(OutboxMessage, attempt.report_message_id)
    assert report.kind == service.VERIFY_LOCAL and report.dedupe_key == f"verify:{attempt.id}"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.code == "redemption.voucher.redeemed")) == 1
    assert db.session.scalar(select(LedgerOrder.completed_at).where(LedgerOrder.order_id == voucher.order_id)) is not None


def test_a_lookup_is_two_round_trips(client, clerk, voucher, statements):
    client.login_as(clerk)
    token = client.csrf_token()
    with statements() as seen:
        response = client.post("/counter/lookup", data={"code": voucher.code, "csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.select_one("#redemption-preview") is not None
    assert len(seen) <= LOOKUP_STATEMENTS, "\n\n".join(seen)
