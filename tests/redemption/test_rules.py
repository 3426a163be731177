"""Anomaly rules: failed attempts pause a product; busy buyer phones go to review; thresholds."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.notifications import Notification
from portal.orders.models import VoucherStatus
from portal.outbox import OutboxMessage
from portal.redemption import rules, service
from portal.redemption.models import Outcome, Reason, ReviewCase, ReviewStatus


@pytest.fixture
def product(shop, org):
    return shop.product(org, stores=[org.stores[0]])


def fail_once(org, clerk, voucher, clock, n):
    # Redeeming at the wrong store is a counted failure that keeps the voucher usable.
    return service.redeem(org.stores[1], voucher.code, nonce=f"f{n}-{clock.now().timestamp()}", actor=clerk, now=clock.now())


def fail_codes(org, clerk, shop, product, clock, count, start=0):
    """`count` failures, each of a different voucher of `product` (rule 1 counts codes)."""
    vouchers = [shop.paid(org, product).vouchers[0] for _ in range(count)]
    return [fail_once(org, clerk, voucher, clock, start + n) for n, voucher in enumerate(vouchers)]


def test_a_sixth_failing_code_in_a_day_pauses_the_product_and_notifies_the_owner(db, org, clerk, shop, product, clock):
    assert [r.reason for r in fail_codes(org, clerk, shop, product, clock, 5)] == [Reason.WRONG_STORE] * 5
    assert product.paused_at is None
    voucher = shop.paid(org, product).vouchers[0]
    fail_once(org, clerk, voucher, clock, 5)
    assert product.paused_at is not None and "6" in product.paused_reason
    assert not product.buyable
    offline = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "catalog.product.operate")).all()
    assert [(m.payload["product_id"], m.payload["online"]) for m in offline] == [(product.id, False)]
    note = db.session.scalar(select(Notification).where(Notification.kind == "anomaly"))
    assert product.name in note.title
    result = service.redeem(org.stores[0], voucher.code, nonce="after", actor=clerk, now=clock.now())
    assert result.reason == Reason.PRODUCT_PAUSED


def test_one_code_failing_again_and_again_counts_once(db, org, clerk, owner, shop, product, clock):
    """A clerk looking up the same used voucher six times is not six signs of abuse."""
    voucher = shop.paid(org, product).vouchers[0]
    assert service.redeem(org.stores[0], voucher.code, nonce="used", actor=clerk, now=clock.now()).ok
    clock.advance(minutes=1)  # well after the redemption: not a concurrent confirm
    for _ in range(8):
        assert service.lookup(org.stores[0], voucher.code, actor=clerk, now=clock.now()).reason == Reason.ALREADY_REDEEMED
        fail_once(org, clerk, voucher, clock, _)
    assert rules.failures_today(product.id, clock.now()) == 1
    assert product.paused_at is None
    assert rules.would_have_caught(org.id, max_failed=1, max_phone=3, now=clock.now())["products"] == []
    rules.save_settings(org.id, max_failed_per_product_day=1, max_redemptions_per_phone_24h=3, actor=owner, now=clock.now())
    fail_codes(org, clerk, shop, product, clock, 1, start=50)  # a second code: over a threshold of 1
    assert product.paused_at is not None


def test_the_failure_count_starts_again_the_next_day(db, org, clerk, shop, product, clock):
    fail_codes(org, clerk, shop, product, clock, 5)
    clock.advance(days=1)
    fail_codes(org, clerk, shop, product, clock, 5, start=10)
    assert product.paused_at is None
    assert rules.failures_today(product.id, clock.now()) == 5


def test_the_owner_resumes_a_paused_product_and_the_count_restarts(db, org, clerk, owner, shop, product, clock):
    fail_codes(org, clerk, shop, product, clock, 6)
    assert product.paused_at is not None
    clock.advance(minutes=10)
    rules.resume_product(product, actor=owner, now=clock.now())
    assert product.paused_at is None
    assert rules.failures_today(product.id, clock.now()) == 0
    voucher = shop.paid(org, product).vouchers[0]
    fail_once(org, clerk, voucher, clock, 99)
    assert product.paused_at is None
    assert service.redeem(org.stores[0], voucher.code, nonce="ok", actor=clerk, now=clock.now()).ok


def test_a_lower_threshold_pauses_sooner(db, org, clerk, owner, shop, product, clock):
    rules.save_settings(org.id, max_failed_per_product_day=1, max_redemptions_per_phone_24h=3, actor=owner, now=clock.now())
    fail_codes(org, clerk, shop, product, clock, 1)
    assert product.paused_at is None
    fail_codes(org, clerk, shop, product, clock, 1, start=2)
    assert product.paused_at is not None


def test_douyin_outages_do_not_count_as_failures(db, org, clerk, product, clock):
    attempt = service._new_attempt(org.stores[0], "x", clerk, clock.now())
    attempt.product_id = product.id
    for _ in range(7):
        service._reject(service._new_attempt(org.stores[0], "x", clerk, clock.now()), Reason.DOUYIN_UNREACHABLE, now=clock.now())
    assert rules.failures_today(product.id, clock.now()) == 0


def redeem_for_phone(org, clerk, shop, product, clock, phone, n):
    voucher = shop.paid(org, product, phone=phone).vouchers[0]
    return voucher, service.redeem(org.stores[0], voucher.code, nonce=f"p{n}", actor=clerk, now=clock.now())


def test_a_fourth_redemption_in_24_hours_is_held_for_review(db, org, clerk, shop, product, clock):
    for n in range(3):
        assert redeem_for_phone(org, clerk, shop, product, clock, "13900000001", n)[1].ok
        clock.advance(minutes=30)
    voucher, held = redeem_for_phone(org, clerk, shop, product, clock, "13900000001", 3)
    assert held.outcome == Outcome.HELD and held.reason == Reason.HELD_FOR_REVIEW
    assert voucher.status == VoucherStatus.UNUSED
    case = db.session.scalar(select(ReviewCase))
    assert case.status == ReviewStatus.OPEN and case.voucher_id == voucher.id
    again = service.redeem(org.stores[0], voucher.code, nonce="again", actor=clerk, now=clock.now())
    assert again.outcome == Outcome.REJECTED and again.reason == Reason.HELD_FOR_REVIEW
    assert len(db.session.scalars(select(ReviewCase)).all()) == 1  # the open case holds it; no second case
    other_phone = redeem_for_phone(org, clerk, shop, product, clock, "13900000002", 9)[1]
    assert other_phone.ok


def test_a_buyer_without_a_phone_is_never_held_by_the_phone_rule(db, org, clerk, owner, shop, product, clock):
    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    for n in range(3):
        assert redeem_for_phone(org, clerk, shop, product, clock, "", n)[1].ok
    assert db.session.scalar(select(ReviewCase)) is None


def test_the_phone_threshold_saved_in_settings_applies(db, org, clerk, owner, shop, product, clock):
    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    assert redeem_for_phone(org, clerk, shop, product, clock, "13900000006", 0)[1].ok
    assert redeem_for_phone(org, clerk, shop, product, clock, "13900000006", 1)[1].outcome == Outcome.HELD
    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=3, actor=owner, now=clock.now())
    assert redeem_for_phone(org, clerk, shop, product, clock, "13900000006", 2)[1].ok


def test_the_phone_window_resets_after_24_hours(db, org, clerk, shop, product, clock):
    for n in range(3):
        redeem_for_phone(org, clerk, shop, product, clock, "13900000003", n)
    clock.advance(hours=24, seconds=1)
    assert redeem_for_phone(org, clerk, shop, product, clock, "13900000003", 4)[1].ok


def test_approving_a_case_redeems_the_voucher_for_the_clerk(db, org, clerk, owner, shop, product, clock):
    for n in range(3):
        redeem_for_phone(org, clerk, shop, product, clock, "13900000004", n)
    voucher, _ = redeem_for_phone(org, clerk, shop, product, clock, "13900000004", 3)
    case = db.session.scalar(select(ReviewCase))
    result = service.decide_case(case, approve=True, note="熟客，已核实", actor=owner, now=clock.now())
    assert result.ok and voucher.status == VoucherStatus.REDEEMED and voucher.redeemed_by_id == clerk.id
    assert case.status == ReviewStatus.APPROVED and case.note == "熟客，已核实"
    with pytest.raises(service.RedemptionError):
        service.decide_case(case, approve=False, note="", actor=owner, now=clock.now())


def test_rejecting_a_case_leaves_the_voucher_unused(db, org, clerk, owner, shop, product, clock):
    for n in range(3):
        redeem_for_phone(org, clerk, shop, product, clock, "13900000005", n)
    voucher, _ = redeem_for_phone(org, clerk, shop, product, clock, "13900000005", 3)
    case = db.session.scalar(select(ReviewCase))
    assert service.decide_case(case, approve=False, note="疑似代核销", actor=owner, now=clock.now()) is None
    assert voucher.status == VoucherStatus.UNUSED and case.status == ReviewStatus.REJECTED


def test_settings_refuse_out_of_range_values(db, org, owner, clock):
    with pytest.raises(rules.RuleError) as error:
        rules.save_settings(org.id, max_failed_per_product_day=0, max_redemptions_per_phone_24h=3, actor=owner, now=clock.now())
    assert error.value.field == "max_failed_per_product_day"
    assert rules.get_settings(org.id).max_failed_per_product_day == 5


def test_the_rules_page_numbers_what_each_rule_would_have_caught(db, org, clerk, shop, product, clock):
    voucher = shop.paid(org, product).vouchers[0]
    for n in range(3):
        fail_once(org, clerk, voucher, clock, n)  # one code, failing three times: counted once
    fail_codes(org, clerk, shop, product, clock, 3, start=10)
    for n in range(3):
        redeem_for_phone(org, clerk, shop, product, clock, "13900000006", 20 + n)
    caught = rules.would_have_caught(org.id, max_failed=3, max_phone=2, now=clock.now() + timedelta(minutes=1))
    assert [(c.product_id, c.failures) for c in caught["products"]] == [(product.id, 4)]
    assert [(c.phone, c.count) for c in caught["phones"]] == [("139****0006", 3)]
    strict = rules.would_have_caught(org.id, max_failed=5, max_phone=3, now=clock.now())
    assert strict["products"] == [] and strict["phones"] == []


def test_losing_to_a_concurrent_confirm_of_the_same_code_is_not_a_failure(db, org, clerk, manager, owner, shop, product, clock):
    """Two clerks confirming the same voucher at once: the loser's "already redeemed" says nothing about abuse."""
    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1000, actor=owner, now=clock.now())
    for n in range(7):
        voucher = shop.paid(org, product).vouchers[0]
        assert service.redeem(org.stores[0], voucher.code, nonce=f"win{n}", actor=clerk, now=clock.now()).ok
        clock.advance(seconds=2)
        lost = service.redeem(org.stores[0], voucher.code, nonce=f"lose{n}", actor=manager, now=clock.now())
        assert lost.reason == Reason.ALREADY_REDEEMED
    assert rules.failures_today(product.id, clock.now()) == 0 and product.paused_at is None
    assert rules.would_have_caught(org.id, max_failed=1, max_phone=99, now=clock.now())["products"] == []
    # The same code tried again long after it was used still counts.
    clock.advance(minutes=10)
    service.redeem(org.stores[0], voucher.code, nonce="late", actor=clerk, now=clock.now())
    assert rules.failures_today(product.id, clock.now()) == 1


def test_the_preview_counts_a_held_redemption_once_at_the_counter_and_only_if_it_happened(db, org, clerk, owner, shop, product, clock):
    """Today's thresholds replayed show what they did catch: both holds, each once, at the time the
    customer stood at the counter. An approved hold did happen, so it counts towards the next one;
    a rejected hold did not."""
    for n in range(3):
        assert redeem_for_phone(org, clerk, shop, product, clock, "13900000009", n)[1].ok
        clock.advance(minutes=10)
    _, held = redeem_for_phone(org, clerk, shop, product, clock, "13900000009", 3)
    held_at = clock.now()
    clock.advance(hours=2)
    first = db.session.scalar(select(ReviewCase))
    assert service.decide_case(first, approve=True, note="熟客", actor=owner, now=clock.now()).ok
    clock.advance(minutes=10)
    _, second = redeem_for_phone(org, clerk, shop, product, clock, "13900000009", 4)
    assert held.outcome == second.outcome == Outcome.HELD
    caught = rules.would_have_caught(org.id, max_failed=5, max_phone=3, now=clock.now() + timedelta(minutes=1))
    assert [(c.at, c.count) for c in caught["phones"]] == [(clock.now(), 5), (held_at, 4)]
    looser = rules.would_have_caught(org.id, max_failed=5, max_phone=4, now=clock.now() + timedelta(minutes=1))
    assert [(c.at, c.count) for c in looser["phones"]] == [(clock.now(), 5)]  # the approved one counted
