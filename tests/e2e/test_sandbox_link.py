"""The portal and the sandbox both running for real: a purchase reaches the portal once, verified."""

import time

from sqlalchemy import func, select

from portal.douyin.events import WebhookEvent
from portal.extensions import db
from tests.e2e.conftest import online_product, wait_until


def stored_events(live_portal, event_type):
    with live_portal.app.app_context():
        return db.session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.event_type == event_type))


def test_sandbox_callbacks_reach_the_portal_once_even_when_duplicated(live_portal, live_sandbox, demo_connected):
    control = live_sandbox.control
    # A product approved and online in the sandbox, bought by a customer; every callback sent three times.
    product_id = online_product(live_portal, live_sandbox, demo_connected, out_id="e2e-link-1", name="双人套餐")
    before = stored_events(live_portal, "payment")
    control.post("", {"duplicate": 3})
    try:
        order = control.post("/orders", {"product_id": product_id, "poi_id": demo_connected["poi_ids"][0], "channel": "short_video",
                                         "tracking_code": "shortvideo_1122_douyin", "phone": "13800138000", "pay": True})
        assert order["order_id"]
        assert wait_until(lambda: stored_events(live_portal, "payment") == before + 1)
        control.post("/deliver")
        time.sleep(0.5)
        assert stored_events(live_portal, "payment") == before + 1
        import requests

        log = requests.get(f"{live_sandbox.url}/sandbox/callbacks", params={"appid": demo_connected["appid"], "event_type": "payment"}, timeout=10).json()
        assert log  # the sandbox really sent it (three copies per attempt), the portal kept one
    finally:
        control.post("", {"duplicate": 1})
