"""settle_create / settle_query, the 1-hour ledger, withdrawals."""
import json


def verified_order(world, price=9900, **buy):
    order = world.buy(world.online_product(price=price, delivery_type=1), **buy)
    prep = world.get("/goodlife/v1/fulfilment/certificate/prepare/", encrypted_data=order["encrypted_data"]).get_json()["data"]
    world.post("/goodlife/v1/fulfilment/certificate/verify/", {
        "verify_token": prep["verify_token"], "poi_id": world.poi_a,
        "encrypted_codes": [c["encrypted_code"] for c in prep["certificates"]]})
    return order


def settle(world, order, out_settle_no, **extra):
    body = {"out_order_no": order["out_order_no"], "out_settle_no": out_settle_no, "settle_desc": "结算"}
    body.update(extra)
    return world.trade("settle_create", body).get_json()


def test_settle_before_verify_is_23107(world, receiver):
    order = world.buy(world.online_product(delivery_type=1))
    assert settle(world, order, "S1")["err_no"] == 23107


def test_settle_after_verify_and_duplicate_out_settle_no_is_23111(world, receiver):
    order = verified_order(world, price=9900)
    first = settle(world, order, "S1", settle_params=json.dumps([{"merchant_uid": "x", "amount": 9900}]))
    assert first["err_no"] == 0 and first["data"]["settle_id"].startswith("ots")
    dup = settle(world, order, "S1")
    assert dup["err_no"] == 23111
    again = settle(world, order, "S2")
    assert again["err_no"] == 23112  # nothing left to settle
    rows = world.trade("settle_query", {"out_settle_no": "S1"}).get_json()["data"]
    assert len(rows) == 1 and rows[0]["settle_status"] == "SUCCESS"
    assert rows[0]["rake"] == 248  # 2.5 % of 9900, rounded half up
    assert rows[0]["commission"] == 0 and rows[0]["settle_amount"] == 9900 - 248
    msg = json.loads(receiver.trade("settle")[0]["json"]["msg"])
    assert msg["settle_id"] == first["data"]["settle_id"] and msg["status"] == "SUCCESS"


def test_alliance_orders_pay_commission(world, receiver):
    order = verified_order(world, price=10000, order_source="alliance")
    rows = world.trade("settle_query", {"settle_id": settle(world, order, "S1")["data"]["settle_id"]}).get_json()["data"]
    assert rows[0]["commission"] == 1000 and rows[0]["settle_amount"] == 10000 - 250 - 1000


def test_settle_unknown_order_and_unpaid_order(world, receiver):
    assert settle(world, {"out_order_no": "nope"}, "S1")["err_no"] == 23101
    order = world.buy(world.online_product(), pay=False)
    assert settle(world, order, "S2")["err_no"] == 23102


def test_ledger_entry_appears_one_hour_after_verify(world, receiver):
    order = verified_order(world)
    status = world.client.get("/sandbox/control").get_json()
    bill_date = status["now"][:10]

    def ledger(**kw):
        query = dict({"account_id": world.account_id, "cursor": "0", "size": 50}, **kw)
        return world.get("/goodlife/v1/settle/ledger/query/", **query).get_json()["data"]

    assert ledger(bill_date=bill_date)["ledger_records"] == []
    world.control(advance_seconds=3601)
    day = world.client.get("/sandbox/control").get_json()["now"][:10]
    page = ledger(bill_date=day)
    records = page["ledger_records"]
    assert len(records) == 1 and records[0]["order_id"] == order["order_id"]
    assert records[0]["amount"]["pay"] == 9900 and records[0]["amount"]["goods"] == 9900 - 248
    assert page["has_more"] is False and page["cursor"] == "1"
    assert ledger(bill_date=day, size=51)["error_code"] == 10000
    assert ledger(bill_date=day.replace("-", ""))["error_code"] == 10000  # YYYY-MM-DD only
    # verify_record/query allows at most 20 per page
    too_big = world.get("/goodlife/v1/fulfilment/certificate/verify_record/query/",
                        account_id=world.account_id, size=21).get_json()["data"]
    assert too_big["error_code"] == 10000


def test_withdrawal_needs_settled_balance_and_can_auto_pay(world, receiver):
    uid = world.client.get(f"/sandbox/control/apps/{world.appid}").get_json()["merchant_uid"]
    merchant = {"app_id": world.appid, "merchant_uid": uid, "channel_type": "hz"}

    def withdraw(out_order_id, amount):
        return world.post("/api/apps/ecpay/saas/merchant_withdraw/", dict(merchant, out_order_id=out_order_id, withdraw_amount=amount)).get_json()

    def query(out_order_id):
        return world.post("/api/apps/ecpay/saas/query_withdraw_order/", dict(merchant, out_order_id=out_order_id)).get_json()["data"]

    def balance():
        return world.post("/api/apps/ecpay/saas/query_merchant_balance/", merchant).get_json()["data"]["account_info"]

    order = verified_order(world, price=9900)
    assert balance() == {"online_balance": 9900, "withdrawable_balacne": 0, "freeze_balance": 0}
    assert withdraw("W1", 100)["err_no"] == 2100011
    settle(world, order, "S1")
    assert balance() == {"online_balance": 0, "withdrawable_balacne": 9652, "freeze_balance": 0}
    world.control(withdraw_auto_pay=True, withdraw_auto_pay_seconds=60)
    r = withdraw("W1", 9652)
    assert r["err_no"] == 0 and r["data"]["order_id"]
    assert query("W1") == {"status": "PROCESSING", "status_msg": ""}
    assert balance()["freeze_balance"] == 9652
    world.control(advance_seconds=61)
    assert query("W1")["status"] == "SUCCESS"
    assert withdraw("W2", 1)["err_no"] == 2100011
    assert world.post("/api/apps/ecpay/saas/merchant_withdraw/", dict(merchant, channel_type="wx", out_order_id="W3", withdraw_amount=1)).get_json()["err_no"]
