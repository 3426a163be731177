"""Douyin at the counter: certificates verified live (timeouts looked up before a retry), local
redemptions reported through the outbox, which survives an outage."""

import json
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from sqlalchemy import select

from portal import outbox
from portal.orders.models import VoucherKind, VoucherStatus
from portal.outbox import OutboxMessage, OutboxStatus
from portal.redemption import service
from portal.redemption.models import Reason
from tests.fixtures.catalog import BASE, goodlife


class Fulfilment:
    """Douyin's certificate endpoints for one order, as `responses` callbacks."""

    def __init__(self, mock, order):
        self.mock = mock
        self.order = order
        self.status = 1  # 1 unused, 2 verified
        self.calls: list[str] = []
        self.verify_replies: list = []  # queued: dict reply or an exception to raise
        self.item = order.items[0].douyin_item_order_id
        mock.add(responses.POST, f"{BASE}/oauth/client_token/", json={"data": {"access_token": "clt.test", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
        mock.add_callback(responses.GET, f"{BASE}/goodlife/v1/fulfilment/certificate/prepare/", callback=self.prepare)
        mock.add_callback(responses.POST, f"{BASE}/goodlife/v1/fulfilment/certificate/verify/", callback=self.verify)
        mock.add_callback(responses.GET, f"{BASE}/goodlife/v1/fulfilment/certificate/get/", callback=self.get)
        mock.add_callback(responses.POST, f"{BASE}/goodlife/v1/fulfilment/certificate/cancel/", callback=self.cancel)

    def cert(self):
        """prepare's certificate (tests/contracts/fixtures/certificate_prepare.json)."""
        return {"encrypted_code": "enc-1", "expire_time": 4102415999, "sku": {"sku_id": "1", "title": "双人套餐"}}

    def got(self):
        """certificate/get's certificate: certificate_id is under verify (fixture certificate_get)."""
        out = {"encrypted_code": "enc-1", "status": self.status}
        if self.status == 2:
            out["verify"] = {"verify_id": "ver-1", "certificate_id": "cert-1", "can_cancel": True}
        return out

    @staticmethod
    def reply(body):
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False)

    def prepare(self, request):
        self.calls.append("prepare")
        if self.status != 1:
            return self.reply(goodlife(code=13000, description="无券信息"))
        return self.reply(goodlife({"verify_token": "vt-1", "order_id": self.order.douyin_order_id, "certificates": [self.cert()]}))

    def verify(self, request):
        self.calls.append("verify")
        queued = self.verify_replies.pop(0) if self.verify_replies else None
        if isinstance(queued, tuple):
            landed, error = queued
            if landed:
                self.status = 2  # the verify happened, but the answer never came back
            raise error
        if queued is not None:
            return self.reply(goodlife(queued))
        result = 0 if self.status == 1 else 1208
        self.status = 2
        return self.reply(goodlife({"verify_results": [{"result": result, "msg": "success", "verify_id": "ver-1", "certificate_id": "cert-1"}]}))

    def get(self, request):
        self.calls.append("get")
        return self.reply(goodlife({"certificate": self.got()}))

    def cancel(self, request):
        self.calls.append("cancel")
        self.status = 1
        return self.reply(goodlife({}))


@pytest.fixture
def poi(connected, db, org):
    org.stores[0].douyin_poi_id = "poi-0001"
    db.session.flush()
    return org.stores[0]


@pytest.fixture
def certificate(shop, org, poi, connected):
    product = shop.product(org, stores=[org.stores[0]])
    order = shop.paid(org, product, delivery_type=1, poi_id="poi-0001")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Fulfilment(mock, order)


def test_a_douyin_certificate_is_previewed_then_verified_live(db, org, clerk, certificate, clock):
    voucher = certificate.order.vouchers[0]
    assert voucher.kind == VoucherKind.DOUYIN
    preview = service.lookup(org.stores[0], "123456789012", actor=clerk, now=clock.now())
    assert isinstance(preview, service.Preview) and preview.douyin and preview.voucher.id == voucher.id
    result = service.redeem(org.stores[0], "123456789012", nonce="dy1", actor=clerk, now=clock.now())
    assert result.ok and voucher.status == VoucherStatus.REDEEMED
    assert (voucher.douyin_verify_id, voucher.douyin_certificate_id) == ("ver-1", "cert-1")
    assert certificate.calls.count("verify") == 1


def test_a_laike_certificate_gets_its_voucher_at_the_counter_and_is_verified(db, org, clerk, poi, connected, clock):
    from portal.orders import laike

    order = laike.record_laike_order(org.id, {"action": "pay_success", "order": {"order_id": "7100000000000000999", "pay_amount": 8800, "original_amount": 9900}}, now=clock.now())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        douyin = Fulfilment(mock, order)
        result = service.redeem(org.stores[0], "123456789012", nonce="lk1", actor=clerk, now=clock.now())
    assert result.ok and douyin.calls == ["prepare", "verify"]
    [voucher] = order.vouchers
    assert voucher.kind == VoucherKind.DOUYIN and voucher.status == VoucherStatus.REDEEMED
    assert (voucher.douyin_verify_id, voucher.douyin_certificate_id) == ("ver-1", "cert-1")


def test_a_verify_timeout_is_looked_up_before_any_retry(db, org, clerk, certificate, clock):
    certificate.verify_replies = [(True, requests.exceptions.ReadTimeout("slow"))]
    result = service.redeem(org.stores[0], "123456789012", nonce="dy2", actor=clerk, now=clock.now())
    assert result.ok
    assert certificate.calls == ["prepare", "verify", "get"]  # verified on Douyin: never sent twice
    assert certificate.order.vouchers[0].douyin_verify_id == "ver-1"


def test_a_timeout_on_an_unverified_certificate_retries_once(db, org, clerk, certificate, clock):
    certificate.verify_replies = [(False, requests.exceptions.ConnectionError("reset"))]
    result = service.redeem(org.stores[0], "123456789012", nonce="dy3", actor=clerk, now=clock.now())
    assert result.ok
    assert certificate.calls == ["prepare", "verify", "get", "verify"]


def test_douyin_unreachable_redeems_nothing_and_says_so(db, org, clerk, certificate, clock):
    certificate.mock.replace(responses.GET, f"{BASE}/goodlife/v1/fulfilment/certificate/prepare/", status=503, json={})
    result = service.redeem(org.stores[0], "123456789012", nonce="dy4", actor=clerk, now=clock.now())
    assert result.reason == Reason.DOUYIN_UNREACHABLE and "连不上抖音" in result.message
    assert certificate.order.vouchers[0].status == VoucherStatus.UNUSED


def test_a_refused_verify_rolls_the_claim_back(db, org, clerk, certificate, clock):
    certificate.verify_replies = [{"verify_results": [{"result": 1206, "msg": "券码已退款"}]}]
    result = service.redeem(org.stores[0], "123456789012", nonce="dy5", actor=clerk, now=clock.now())
    assert result.reason == Reason.REFUNDED
    assert certificate.order.vouchers[0].status == VoucherStatus.UNUSED


def test_a_used_certificate_is_reported_already_redeemed_by_whom(db, org, clerk, certificate, clock):
    assert service.redeem(org.stores[0], "123456789012", nonce="a", actor=clerk, now=clock.now()).ok
    second = service.redeem(org.stores[0], "123456789012", nonce="b", actor=clerk, now=clock.now())
    assert second.reason == Reason.ALREADY_REDEEMED and clerk.display_name in second.detail


def test_undo_of_a_certificate_cancels_it_live(db, org, clerk, certificate, clock):
    voucher = certificate.order.vouchers[0]
    service.redeem(org.stores[0], "123456789012", nonce="u", actor=clerk, now=clock.now())
    clock.advance(minutes=20)
    service.undo(voucher, actor=clerk, now=clock.now())
    assert certificate.calls[-1] == "cancel" and voucher.status == VoucherStatus.UNUSED


def test_a_scanned_share_url_is_prepared_with_its_encrypted_data(db, org, clerk, certificate, clock):
    certificate.mock.replace(
        responses.GET,
        f"{BASE}/goodlife/v1/fulfilment/certificate/prepare/",
        body=json.dumps(goodlife({"verify_token": "vt", "order_id": certificate.order.douyin_order_id, "certificates": [certificate.cert()]})),
        content_type="application/json",
    )
    preview = service.lookup(org.stores[0], "https://v.douyin.test/consumer/share?object_id=OBJ123", actor=clerk, now=clock.now())
    assert isinstance(preview, service.Preview)
    query = parse_qs(urlparse(certificate.mock.calls[-1].request.url).query)
    assert query == {"encrypted_data": ["OBJ123"]}


def test_local_redemptions_reach_douyin_after_an_outage(db, org, clerk, shop, poi, connected, clock, queue):
    product = shop.product(org, stores=[org.stores[0]])
    order = shop.paid(org, product, poi_id="poi-0001")
    item_order_id = order.vouchers[0].item.douyin_item_order_id
    service.redeem(poi, order.vouchers[0].code, nonce="out", actor=clerk, now=clock.now())
    report = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == service.VERIFY_LOCAL))
    pushed = []
    down = [True]

    def push_delivery(request):
        if down[0]:
            return 503, {}, "{}"
        pushed.append(json.loads(request.body))
        return 200, {}, json.dumps(goodlife({"verify_results": [
            {"item_order_id": item_order_id, "certificate_id": "c9", "verify_id": "v9", "verify_time": 1700000000000}]}))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{BASE}/oauth/client_token/", json={"data": {"access_token": "clt.t", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
        mock.add_callback(responses.POST, f"{BASE}/api/apps/trade/v2/fulfillment/push_delivery", callback=push_delivery)
        assert outbox.deliver(report.id) == OutboxStatus.PENDING
        assert report.attempts == 1 and report.last_error  # visible: why it has not gone yet
        down[0] = False
        assert outbox.deliver(report.id) == OutboxStatus.DELIVERED
    assert len(pushed) == 1
    assert pushed[0]["out_order_no"] == order.out_order_no and pushed[0]["use_all"] is False
    assert pushed[0]["item_order_list"] == [{"item_order_id": item_order_id}]
    assert json.loads(pushed[0]["poi_info"])["valid_poi_id_str"] == "poi-0001"
    assert report.result["verify_id"] == "v9" and report.result["certificate_id"] == "c9"
