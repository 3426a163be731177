"""Contract cases of the trade system: trade_basic, trade v2 fulfilment, trade callbacks, the ecpay
SaaS payout APIs, subscription messages, and the invented /api/apps/v1 endpoints (held to one
shape until real APIs replace them)."""

from __future__ import annotations

import json

from portal.douyin import replies

from .harness import Case

CALLBACK_URL = "http://merchant.test/douyin/trade"


# --- sandbox preparation -----------------------------------------------------------------------

def _paid_order(world, *, price=100, quantity=1):
    """A paid mini-program order (third-party codes, delivery_type 0) in the sandbox."""
    return world.buy(world.online_product(price=price, delivery_type=0), quantity=quantity)


def _used_order(world, **kw):
    """A paid order whose codes were all reported used (push_delivery use_all)."""
    order = _paid_order(world, **kw)
    reply = world.post("/api/apps/trade/v2/fulfillment/push_delivery", {"out_order_no": order["out_order_no"], "use_all": True})
    assert reply.get_json()["data"]["error_code"] == 0, reply.get_json()
    return order, reply.get_json()["data"]["verify_results"]


def _refund_all(world, order, out_refund_no):
    reply = world.trade("refund_create", {
        "order_id": order["order_id"], "out_refund_no": out_refund_no, "refund_total_amount": order["total_amount"],
        "refund_all": True, "refund_reason": [{"code": 101, "text": "不想要了"}]}, sign=False).get_json()
    assert reply["err_no"] == 0, reply
    return reply["data"]


def _settle(world, order, out_settle_no="S1"):
    reply = world.trade("settle_create", {"out_order_no": order["out_order_no"], "out_settle_no": out_settle_no,
                                          "settle_desc": "核销结算"}, sign=False).get_json()
    assert reply["err_no"] == 0, reply
    return reply["data"]


def _sent(world, event_type) -> dict:
    body = dict(world.callbacks(event_type)[-1]["body"])
    body["msg"] = json.loads(body["msg"])
    return body


def prep_refund_create(world, fixture):
    order = _paid_order(world, price=100)
    return {"motb123123131": order["order_id"], "xxx": order["items"][0]["item_order_id"], "https://xxx": CALLBACK_URL}


def prep_refund_query(world, fixture):
    order = _paid_order(world)
    return {"ot1231231": _refund_all(world, order, "R1")["refund_id"]}


def prep_refund_audit(world, fixture):
    order = _paid_order(world)
    refund = world.client.post("/sandbox/control/refunds", json={"order_id": order["order_id"]}).get_json()
    return {"motb71237362": refund["refund_id"]}


def prep_settle_create(world, fixture):
    order, _ = _used_order(world)
    return {"out_order_example_1": order["out_order_no"], "https://www.xxxx.com": CALLBACK_URL}


def prep_settle_query(world, fixture):
    order, _ = _used_order(world)
    _settle(world, order)
    return {"ot7053735385750849836": order["order_id"], "test123": world.appid}


def prep_push_delivery(world, fixture):
    order = _paid_order(world, quantity=2)
    items = order["items"]
    return {"out123456": order["out_order_no"], "ot123": items[0]["item_order_id"], "ot456": items[1]["item_order_id"]}


def prep_verify_cancel(world, fixture):
    order, results = _used_order(world)
    return {"12345": results[0]["verify_id"], "123": results[0]["certificate_id"], "8000088": order["order_id"]}


def _merchant_uid(world):
    return world.client.get(f"/sandbox/control/apps/{world.appid}").get_json()["merchant_uid"]


def prep_query_merchant_status(world, fixture):
    return {"Ihic7JAS8S": world.appid, "4tVFz16lsI": _merchant_uid(world)}


def prep_query_merchant_balance(world, fixture):
    return {"3VzstqT0ga": world.appid, "PnO3rRMe7i": _merchant_uid(world), "msINa2xaQQ": "hz"}


def prep_merchant_withdraw(world, fixture):
    world.control(withdraw_check_balance=False)
    return {"hKDFaqyu8v": world.appid, "mNVpUXNihx": _merchant_uid(world), "BsCy9xp511": "hz"}


def prep_query_withdraw_order(world, fixture):
    world.control(withdraw_check_balance=False)
    uid = _merchant_uid(world)
    reply = world.post("/api/apps/ecpay/saas/merchant_withdraw/", {
        "app_id": world.appid, "merchant_uid": uid, "channel_type": "hz", "withdraw_amount": 9500,
        "out_order_id": "UVzIT2f6hN"}).get_json()
    assert reply["err_no"] == 0, reply
    return {"muZ1VMqAPI": world.appid, "q9tDlgJ5RE": uid, "Ex3gDC2rGD": "hz"}


def _book(world, order, out_book_no="BK1"):
    reply = world.post("/api/apps/trade/v2/book/create_book", {
        "order_id": order["order_id"], "out_book_no": out_book_no, "open_id": order["open_id"],
        "item_book_info_list": [{"poi_id": world.poi_a, "book_start_time": 1657110478000, "book_end_time": 1657117678000}]}).get_json()
    assert reply["data"]["error_code"] == 0, reply
    return reply["data"]["book_id"]


def prep_book_create(world, fixture):
    order = _paid_order(world)
    return {"ot7117199930837961004": order["order_id"], "194437895436262": order["open_id"], "4355": world.poi_a,
            "ot7117199930837961005": order["items"][0]["item_order_id"]}


def prep_book_result(world, fixture):
    return {"mock_book_id": _book(world, _paid_order(world))}


def _goods_order(world):
    """A paid courier-goods order (product_type 2: no codes) in the sandbox."""
    return world.buy(world.online_product(price=100, product_type=2))


def prep_fulfill_shipped(world, fixture):
    order = _goods_order(world)
    return {"motb123123131": order["order_id"], "motb123123132": order["items"][0]["item_order_id"]}


def prep_fulfill_delivered(world, fixture):
    mapping = prep_fulfill_shipped(world, fixture)
    reply = world.post("/api/trade_basic/v1/developer/fulfill_push_status", {
        "order_id": mapping["motb123123131"], "item_order_id_list": [mapping["motb123123132"]], "to_status": "fulfilling"}).get_json()
    assert reply["err_no"] == 0, reply
    return mapping


def prep_notify_user(world, fixture):
    """A buyer of this app (the sandbox refuses an open_id that never bought from it)."""
    return {"36d4bd3c8****": _paid_order(world)["open_id"]}


# --- callbacks ---------------------------------------------------------------------------------

def emit_refund(world):
    _refund_all(world, _paid_order(world), "R1")
    return _sent(world, "refund")


def emit_pre_create_refund(world):
    order = _paid_order(world)
    world.client.post("/sandbox/control/refunds", json={"order_id": order["order_id"]})
    return _sent(world, "pre_create_refund")


def emit_settle(world):
    order, _ = _used_order(world)
    _settle(world, order)
    return _sent(world, "settle")


def accept(request, fixture):
    connected = request.getfixturevalue("connected")
    body = fixture["request"]["body"]
    return connected.trade_callback(body["type"], json.loads(body["msg"]))


CASES = [
    Case(
        "refund_create",
        call=lambda c: c.refund_create(
            order_id="motb123123131", out_refund_no="ext_123123", refund_total_amount=100,
            item_order_detail=[{"item_order_id": "xxx", "refund_amount": 100}],
            refund_reason=[{"code": 101, "text": "不想要了"}], cp_extra="extra_info", notify_url="https://xxx",
            order_entry_schema={"path": "page/xxx", "params": "{\"id\":1}"},
        ),
        reply=replies.REFUND_CREATE,
        sandbox=prep_refund_create,
    ),
    Case("refund_query", call=lambda c: c.refund_query(refund_id="ot1231231"), reply=replies.REFUND_QUERY, sandbox=prep_refund_query),
    Case(
        "refund_audit_callback",
        call=lambda c: c.refund_audit(refund_id="motb71237362", agree=False, deny_message="不同意退款"),
        reply=replies.REFUND_AUDIT,
        sandbox=prep_refund_audit,
    ),
    Case(
        "settle_create",
        call=lambda c: c.settle_create(
            out_order_no="out_order_example_1", out_settle_no="out_settle_example_1", settle_desc="分账描述",
            settle_params=[{"merchant_uid": "分账方商户号1", "amount": 100}], ext="test", notify_url="https://www.xxxx.com",
        ),
        reply=replies.SETTLE_CREATE,
        sandbox=prep_settle_create,
    ),
    Case("settle_query", call=lambda c: c.settle_query(order_id="ot7053735385750849836"), reply=replies.SETTLE_QUERY, sandbox=prep_settle_query),
    Case("tag_query", call=lambda c: c.tag_query(101), reply=replies.TAG_QUERY, sandbox=lambda world, fixture: {}),
    Case(
        "push_delivery",
        call=lambda c: c.push_delivery(
            out_order_no="out123456", item_order_ids=["ot123", "ot456"],
            poi_info={"shop_name": "xx门店", "ext_valid_shop_id": "x0001", "valid_poi_id_str": "6601136930455291912"},
        ),
        reply=replies.PUSH_DELIVERY,
        sandbox=prep_push_delivery,
    ),
    Case(
        "verify_cancel",
        call=lambda c: c.verify_cancel(order_id="8000088", certificate_id="123", verify_id="12345"),
        reply=replies.VERIFY_CANCEL,
        sandbox=prep_verify_cancel,
    ),
    Case("trade_refund", emit=emit_refund, accept=accept, reads=replies.REFUND_MSG),
    Case("trade_pre_create_refund", emit=emit_pre_create_refund, accept=accept, reads=replies.PRE_CREATE_REFUND_MSG),
    Case("trade_settle", emit=emit_settle, accept=accept),
    # ecpay SaaS: 进件 state, balance and withdrawals (SK AppsECPay).
    Case("query_merchant_status", call=lambda c: c.query_merchant_status("4tVFz16lsI"), reply=replies.QUERY_MERCHANT_STATUS,
         sandbox=prep_query_merchant_status),
    Case("query_merchant_balance", call=lambda c: c.query_merchant_balance(merchant_uid="PnO3rRMe7i", channel_type="msINa2xaQQ"),
         reply=replies.QUERY_MERCHANT_BALANCE, sandbox=prep_query_merchant_balance),
    Case("merchant_withdraw", call=lambda c: c.merchant_withdraw(
        merchant_uid="mNVpUXNihx", channel_type="BsCy9xp511", out_order_id="g5uWZmmK74", withdraw_amount=1,
        callback="QrsNsb2YSx", cp_extra="ilPQJKzwXO"), reply=replies.MERCHANT_WITHDRAW, sandbox=prep_merchant_withdraw),
    Case("query_withdraw_order", call=lambda c: c.query_withdraw_order(
        merchant_uid="q9tDlgJ5RE", channel_type="Ex3gDC2rGD", out_order_id="UVzIT2f6hN"), reply=replies.QUERY_WITHDRAW_ORDER,
         sandbox=prep_query_withdraw_order),
    # trade v2 bookings (SK AppsTradeBook*).
    Case("book_create", call=lambda c: c.create_book(
        order_id="ot7117199930837961004", out_book_no="zxsw4443rette54ert53", open_id="194437895436262",
        items=[{"poi_id": "4355", "shop_name": "345245", "ext_shop_id": "2341", "goods_id": "7116799885390841900",
                "item_order_id": "ot7117199930837961005", "book_start_time": 1657110478000, "book_end_time": 1657110479000,
                "user_info_list": [{"phone": "12321234322"}]}]),
         reply=replies.BOOK_CREATE, sandbox=prep_book_create),
    Case("book_result_callback", call=lambda c: c.book_result_callback(book_id="mock_book_id", confirmed=False, msg="xxxxxx"),
         reply=replies.BOOK_RESULT_CALLBACK, sandbox=prep_book_result),
    # Courier goods: fulfilment state (SK TradeBasicDeveloperFulfillPushStatusV1*).
    Case("fulfill_push_status", call=lambda c: c.fulfill_push_status(
        order_id="motb123123131", item_order_ids=["motb123123132"], to_status="fulfilling"),
         reply=replies.FULFILL_PUSH_STATUS, sandbox=prep_fulfill_shipped),
    Case("fulfill_push_status_delivered", call=lambda c: c.fulfill_push_status(
        order_id="motb123123131", item_order_ids=["motb123123132"], to_status="fulfilled"),
         reply=replies.FULFILL_PUSH_STATUS, sandbox=prep_fulfill_delivered),
    # Subscription messages (SK NotificationSubscription).
    Case("notify_user", call=lambda c: c.notify_user(
        msg_id="MSG38489d04608c5f0fdeb565fc5114afff6410*******", open_id="36d4bd3c8****",
        data={"物品名称": "测试值0", "购买金额": "测试值1"}, page="pages/index?a=b"),
         reply=replies.NOTIFY_USER, sandbox=prep_notify_user),
    # Invented endpoints: unconfirmed fixtures, one shape for the client and the sandbox.
]
