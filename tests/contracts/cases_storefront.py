"""Store pages (poi/supplier) and Douyin accounts bound by authorization (aweme bind): how the
portal makes each call, and how the sandbox is prepared for the reference request."""

from __future__ import annotations

from portal.accounts.models import Store
from portal.douyin import replies
from portal.settings import storepage
from portal.settings.models import StorePage

from .harness import Case

POI = "6601136930455291912"  # the POI of the supplier samples


def _sync(client):
    """The portal's own payload builder makes the request, holding the store of the sample."""
    store = Store(name="上海几茶.知更民宿（迪士尼店）", address="栏学路328弄97号", phone="18900008929", douyin_poi_id=POI)
    page = StorePage(supplier_ext_id="x0001", cover_image_url="https://static.dingdandao.com/0ffaf1b5a669ea216a960c97ded9a3b0",
                     hours={str(day): ["10:00-22:00"] for day in range(1, 8)})
    return client.supplier_sync(**storepage.supplier_payload(store, page))


def _pushed(world, fixture):
    world.post("/poi/supplier/sync", {"poi_id": world.poi_a, "name": "老王火锅·A店", "supplier_ext_id": "x0001",
                                      "type": 1, "status": 1, "contact_phone": "13912345678"})
    world.client.post("/sandbox/control/supplier_pages/x0001/review", json={"approve": True})
    return None


def _qrcode(world, kind="brand") -> str:
    reply = world.get("/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/", type=kind, capacity_list="video_self_mount")
    return reply.get_json()["data"]["qrcode_parse_content"]


def _agreed(world, fixture):
    ticket = _qrcode(world).rsplit("/", 1)[1]
    world.client.post(f"/sandbox/control/aweme_bind/{ticket}/agree", json={"user_name": "小平", "phone": "13812345678"})
    return None


def _bound(world, fixture):
    """The reference's account, as the sandbox names it, agreed and approved under brand."""
    _agreed(world, fixture)
    world.client.post("/sandbox/control/aweme_relations/5713812345678/review", json={"approve": True})
    return {fixture["request"]["body"]["aweme_id"]: "5713812345678"}


CASES = [
    Case(fixture="poi_supplier_sync", call=_sync, reply=replies.POI_SUPPLIER_SYNC,
         sandbox=lambda world, fixture: {POI: world.poi_a}),
    Case(fixture="poi_supplier_query", call=lambda client: client.supplier_query("x0001"), reply=replies.POI_SUPPLIER_QUERY,
         sandbox=_pushed),
    Case(fixture="aweme_bind_qrcode",
         call=lambda client: client.aweme_bind_qrcode(type="brand", capacity_list=["video_self_mount"], is_co_subject=True),
         reply=replies.AWEME_BIND_QRCODE, sandbox=lambda world, fixture: None),
    Case(fixture="aweme_relation_list", call=lambda client: client.aweme_relation_list(type="brand"),
         reply=replies.AWEME_RELATION_LIST, sandbox=_agreed),
    Case(fixture="aweme_unbind", call=lambda client: client.unbind_aweme_relation(aweme_id="1467922731088997102", type="brand"),
         reply=replies.AWEME_UNBIND, sandbox=_bound),
]
