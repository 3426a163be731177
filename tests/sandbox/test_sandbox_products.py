"""Goods library: save -> review -> online query with cursor paging."""
import hashlib
import json


def online(world, **params):
    params.setdefault("account_id", world.account_id)
    return world.get("/goodlife/v1/goods/product/online/query/", **params).get_json()


def test_saved_product_waits_for_review_and_is_not_online(world):
    pid = world.save_product()
    draft = world.get("/goodlife/v1/goods/product/draft/get/", account_id=world.account_id,
                      product_ids=pid).get_json()["data"]["product_drafts"]
    assert draft[0]["draft_status"] == 10
    assert online(world)["data"]["products"] == []


def test_approval_puts_product_online_and_sends_signed_audit_webhook(world, receiver):
    pid = world.save_product(out_id="P-1")
    world.approve(pid)
    products = online(world)["data"]["products"]
    assert [p["product"]["product_id"] for p in products] == [pid]
    assert products[0]["online_status"] == 1 and "draft_status" not in products[0]
    hooks = receiver.webhooks("life_product_audit")
    assert len(hooks) == 1
    call = hooks[0]
    assert call["headers"]["X-Douyin-Signature"] == hashlib.sha1(world.secret.encode() + call["body"]).hexdigest()
    assert call["headers"]["Msg-Id"]
    assert json.loads(call["json"]["content"]) == {"product_id": pid, "status": "PASS", "reason": ""}


def test_rejection_keeps_product_offline_with_reason(world, receiver):
    pid = world.save_product()
    r = world.client.post(f"/sandbox/control/products/{pid}/review", json={"approve": False, "reason": "图片不清晰"})
    assert r.get_json()["draft_status"] == 12 and r.get_json()["audit_msg"] == "图片不清晰"
    assert online(world)["data"]["products"] == []
    content = json.loads(receiver.webhooks("life_product_audit")[0]["json"]["content"])
    assert content["status"] == "REJECT" and content["reason"] == "图片不清晰"


def test_save_with_existing_out_id_updates_the_same_product(world):
    first = world.save_product(out_id="SAME", price=9900)
    second = world.save_product(out_id="SAME", price=8800)
    assert first == second
    draft = world.get("/goodlife/v1/goods/product/draft/get/", account_id=world.account_id,
                      out_ids="SAME").get_json()["data"]["product_drafts"]
    assert draft[0]["sku"]["actual_amount"] == 8800


def test_online_query_pages_with_cursor(world):
    ids = [world.online_product(name=f"套餐{i}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        data = online(world, count=3, **({"cursor": cursor} if cursor else {}))["data"]
        assert len(data["products"]) <= 3
        seen += [p["product"]["product_id"] for p in data["products"]]
        pages += 1
        if not data["has_more"]:
            break
        cursor = data["next_cursor"]
    assert pages == 3
    assert seen == ids


def test_online_query_default_count_is_five_and_max_fifty(world):
    for i in range(6):
        world.online_product(name=f"套餐{i}")
    assert len(online(world)["data"]["products"]) == 5
    assert online(world, count=50)["data"]["error_code"] == 0
    too_many = online(world, count=51)
    assert too_many["data"]["error_code"] == 10000
    assert too_many["extra"]["error_code"] == 10000


def test_offline_operation_and_unbound_account(world):
    pid = world.online_product()
    r = world.post("/goodlife/v1/goods/product/operate/", {"account_id": world.account_id, "product_id": pid, "op_type": 2})
    assert r.get_json()["data"]["error_code"] == 0
    assert online(world)["data"]["products"][0]["online_status"] == 0
    other = world.client.post("/sandbox/control/accounts", json={"account_name": "别人"}).get_json()["account_id"]
    assert online(world, account_id=other)["data"]["error_code"] == 10004
    assert online(world, account_id="123")["data"]["error_code"] == 2100004  # no such account


def test_auto_approve_after_configured_delay(world):
    world.control(product_auto_approve_seconds=600)
    pid = world.save_product()
    world.control(advance_seconds=599)
    assert online(world)["data"]["products"] == []
    world.control(advance_seconds=2)
    assert [p["product"]["product_id"] for p in online(world)["data"]["products"]] == [pid]
