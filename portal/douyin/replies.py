"""The shape of every reply the portal reads, one constant per contract fixture (tests/contracts/).

Each constant describes the reply's `data` (goodlife: without error_code/description). Declare
only what the portal reads; declare as required only what the reference always shows.
"""

from __future__ import annotations

from .shapes import BOOL, ID, INT, STR, Arr, Map, Obj, opt

# --- oauth ----------------------------------------------------------------------------------

CLIENT_TOKEN = Obj(access_token=STR, expires_in=INT)

# --- goods, stores, account ------------------------------------------------------------------

GOODS_CATEGORY = Obj(category_infos=opt(Arr(Obj(category_id=ID, name=STR, is_leaf=BOOL))))
GOODS_TEMPLATE = Obj(product_attrs=opt(Arr(Obj(key=STR))), sku_attrs=opt(Arr(Obj(key=STR))))
GOODS_SAVE = Obj(product_id=STR)
GOODS_OPERATE = Obj()


def _goods_product(**extra):
    """A product as the goods library returns it: what catalogue sync compares with ours."""
    return Obj(
        product_id=STR, out_id=opt(STR), product_name=STR, category_id=opt(INT),
        sold_start_time=opt(INT), sold_end_time=opt(INT), pois=opt(Arr(Obj(poi_id=ID))), **extra,
    )


def _goods_sku(**extra):
    return Obj(sku_id=STR, actual_amount=INT, origin_amount=opt(INT), stock=opt(Obj(stock_qty=INT)), **extra)


# online/query entries carry no review state; their times are on product and sku.
GOODS_ONLINE_QUERY = Obj(
    products=Arr(Obj(
        online_status=INT,
        product=_goods_product(update_time=opt(INT)),
        sku=opt(_goods_sku(update_time=opt(INT))),
    )),
    next_cursor=opt(STR), has_more=BOOL,
)
_GOODS_DRAFT = Obj(draft_status=INT, audit_msg=opt(STR), product=_goods_product(), sku=opt(_goods_sku()))
GOODS_DRAFT_GET = Obj(product_drafts=Arr(_GOODS_DRAFT))
GOODS_DRAFT_QUERY = Obj(products=Arr(_GOODS_DRAFT), next_cursor=opt(STR), has_more=BOOL)

_POI_ACCOUNT = Obj(account_id=ID, account_name=opt(STR))
SHOP_POI_QUERY = Obj(
    pois=Arr(Obj(
        poi=Obj(poi_id=STR, poi_name=STR, address=opt(STR)),
        account=opt(Obj(poi_account=opt(_POI_ACCOUNT), parent_account=opt(_POI_ACCOUNT))),
    )),
    total=INT,
)

# --- fulfilment (certificates), ledger, webhooks ---------------------------------------------

# prepare: the usable certificates of one order and the verify_token that verifies them.
CERTIFICATE_PREPARE = Obj(
    verify_token=STR,
    order_id=STR,
    certificates=Arr(Obj(encrypted_code=STR, expire_time=opt(INT), sku=opt(Obj(title=opt(STR))))),
)
# One result per code sent: result 0 is verified; verify_id/certificate_id name what was verified.
CERTIFICATE_VERIFY = Obj(
    verify_results=Arr(Obj(result=INT, msg=opt(STR), verify_id=opt(STR), certificate_id=opt(STR))),
)
CERTIFICATE_CANCEL = Obj()
# certificate_id lives under verify (absent while the certificate is unused).
CERTIFICATE_GET = Obj(
    certificate=Obj(
        status=INT,
        verify=opt(Obj(verify_id=STR, certificate_id=STR, can_cancel=opt(BOOL))),
    ),
)
# One page of a day's ledger; `cursor` is the next page's cursor while has_more is true.
SETTLE_LEDGER_QUERY = Obj(
    ledger_records=Arr(Obj(order_id=STR, amount=Obj(pay=INT))),
    cursor=opt(STR),
    has_more=BOOL,
)
# Webhook contents (goodlife events), read by the portal's handlers from the stored payload.
WEBHOOK_LIFE_PRODUCT_AUDIT = Obj(product_id=STR, status=STR, reason=opt(STR))
WEBHOOK_LIFE_TRADE_ORDER = Obj(
    action=STR,
    msg_time=opt(INT),
    order=Obj(order_id=STR, pay_amount=INT, original_amount=INT, account_id=opt(STR), pay_time=opt(INT)),
)
WEBHOOK_LIFE_TRADE_CERTIFICATE = Obj(
    action=STR,
    msg_time=opt(INT),
    certificate=Obj(certificate_id=STR, order_id=STR, account_id=opt(STR)),
)

# --- trade system (trade_basic, trade v2), callbacks -----------------------------------------

# Trade callback messages (the decoded `msg`, PG RefundMsg / pre_create_refund): what the
# portal's refund handlers read.
REFUND_MSG = Obj(
    refund_id=STR, order_id=STR, status=STR, out_refund_no=opt(STR), refund_total_amount=INT,
)
PRE_CREATE_REFUND_MSG = Obj(
    refund_id=STR, order_id=STR, out_order_no=opt(STR), refund_total_amount=INT,
    need_refund_audit=opt(INT), refund_audit_deadline=opt(INT), refund_reason=opt(Arr(STR)),
)

REFUND_CREATE = Obj(refund_id=STR, refund_audit_deadline=INT)
REFUND_QUERY = Obj(refund_list=Arr(Obj(
    refund_id=STR, out_refund_no=STR, order_id=STR, refund_status=STR, refund_total_amount=INT,
)))
REFUND_AUDIT = Obj()
SETTLE_CREATE = Obj(settle_id=STR)
# settle_amount is what the merchant gets; rake and commission what the platform kept (fen).
SETTLE_QUERY = Arr(Obj(settle_id=STR, settle_status=STR, settle_amount=opt(INT), rake=opt(INT), commission=opt(INT)))
TAG_QUERY = Obj(tag_detail_list=Arr(Obj(tag_group_id=STR, tag_list=Arr(Obj(tag_id=STR, tag_name=STR)))))
VERIFY_CANCEL = Obj()
PUSH_DELIVERY = Obj(verify_results=Arr(Obj(item_order_id=STR, certificate_id=STR, verify_id=STR, verify_time=INT)))
# trade v2 bookings (SK AppsTradeBook*): create_book answers the booking's id; the result call nothing.
BOOK_CREATE = Obj(book_id=STR)
BOOK_RESULT_CALLBACK = Obj()

# ecpay SaaS (SK AppsECPay models): 进件 state per channel, the merchant's balance, withdrawals.
_ECPAY_STATUS = Obj(status=STR, merchant_id=opt(STR), reject_reason=opt(STR))
QUERY_MERCHANT_STATUS = Obj(
    merchant_status_info=opt(Map(_ECPAY_STATUS)),
    new_merchant_status_info=opt(Map(_ECPAY_STATUS)),
    pay_status_info=opt(Map(_ECPAY_STATUS)),
)
# withdrawable_balacne: Douyin's own spelling (SK model and sample).
QUERY_MERCHANT_BALANCE = Obj(account_info=Obj(online_balance=INT, withdrawable_balacne=INT, freeze_balance=INT))
MERCHANT_WITHDRAW = Obj(order_id=STR)
QUERY_WITHDRAW_ORDER = Obj(status=STR, status_msg=opt(STR))

# The mini-program's basic information through the third-party platform (SK
# OpenAppsBasicInfoGetInfoV2 model and sample): its name, and the subject (主体) it belongs to.
BASIC_INFO = Obj(app_id=STR, app_name=STR, app_state=opt(INT), subject_audit_info=opt(Obj(subject_name=opt(STR), subject_type=opt(INT))))

# The mini-program's code versions, through the third-party platform's package_version APIs
# (SK OpenAppsPackageVersion* models and samples): the hosts a version may be audited for, the
# test (latest), audit and online (current) versions, and the bare err_no envelope of audit and
# release. audit.status: 0 审核中, 1 通过, 2 不通过, 3 撤回审核; has_audit / has_publish are 0/1.
PACKAGE_AUDIT_HOSTS = Obj(host_names=Arr(STR))
PACKAGE_VERSIONS = Obj(
    latest=opt(Obj(version=STR, has_audit=opt(INT))),
    audit=opt(Obj(version=STR, status=INT, reason=opt(STR), has_publish=opt(INT), is_illegal_version=opt(BOOL))),
    current=opt(Obj(version=STR)),
)
PACKAGE_AUDIT = Obj()
PACKAGE_RELEASE = Obj()

# The third-party platform's authorization (SK ExtendedSDK/OpenApi TpAppAuth models and samples):
# the component_access_token (a flat reply), the authorization link, an authorizer's tokens (from
# an authorization code or a refresh token) and a fresh authorization code for an authorized app.
COMPONENT_TOKEN = Obj(component_access_token=STR, expires_in=INT)
TPAPP_AUTH_LINK = Obj(link=STR)
TPAPP_AUTH_TOKEN = Obj(
    authorizer_access_token=STR, authorizer_refresh_token=opt(STR), expires_in=INT,
    refresh_expires_in=opt(INT), authorizer_appid=opt(STR),
)
TPAPP_AUTH_CODE = Obj(authorization_code=STR, expires_in=INT)
# The platform's pushes to the third-party platform, decrypted (SK Events/Auth, EventSamples/OpenApi/Auth).
COMPONENT_TICKET_EVENT = Obj(Ticket=STR, Event=STR, MsgType=opt(STR), CreateTime=opt(STR))
COMPONENT_AUTH_EVENT = Obj(
    AppId=STR, TpAppId=opt(STR), Event=STR, EventTime=opt(STR),
    AuthorizationCode=opt(STR), AuthorizationCodeExpiresIn=opt(INT),
)

# Subscription message (SK NotificationSubscriptionNotifyUserV2Response): the bare err_no envelope.
NOTIFY_USER = Obj()
# Goods fulfilment state (SK TradeBasicDeveloperFulfillPushStatusV1Response): the bare err_no envelope.
FULFILL_PUSH_STATUS = Obj()

# --- orders (requestOrder, payment, order_query) ---------------------------------------------

# POST /api/trade_basic/v1/developer/order_query/ (SK TradeBasicDeveloperOrderQueryV1Response,
# PG QueryOrderData): the payment facts and one item order per unit bought.
ORDER_QUERY = Obj(
    order_id=STR,
    out_order_no=STR,
    pay_status=STR,
    total_amount=INT,
    discount_amount=opt(INT),
    pay_time=opt(INT),
    item_order_list=opt(Arr(Obj(item_order_id=STR, sku_id=STR, item_order_amount=INT))),
)

# The trade callback `payment` msg (PG GeneralTradeMsg): payment facts only, nothing about what
# was bought, where or by whom; the portal reads it with this shape.
PAYMENT_MSG = Obj(
    out_order_no=STR,
    order_id=STR,
    status=STR,
    total_amount=INT,
    discount_amount=opt(INT),
    event_time=INT,
)

# --- store pages (poi/supplier) and Douyin accounts bound to the app (aweme bind) -------------

# POST /poi/supplier/sync (SK POISupplierSyncResponse): the supplier id of the pushed store page.
POI_SUPPLIER_SYNC = Obj(supplier_id=opt(STR))
# GET /poi/supplier/query (SK POISupplierQueryResponse): the page as Douyin holds it and the
# review of the last push (last_sync_status, fail_reason).
POI_SUPPLIER_QUERY = Obj(
    data_detail=opt(Obj(poi_id=opt(STR), name=opt(STR), address=opt(STR), contact_phone=opt(STR), contact_tel=opt(STR))),
    sync_status=Obj(last_sync_status=INT, fail_reason=opt(STR)),
)
# GET /api/apps/v1/capacity/get_aweme_relation_bind_qrcode/ (SK AppsCapacity): the QR to scan.
AWEME_BIND_QRCODE = Obj(qrcode_url=opt(STR), qrcode_parse_content=STR)
# GET /api/apps/v1/capacity/query_aweme_relation_list/: the bound (or reviewing) accounts.
AWEME_RELATION_LIST = Obj(
    list=Arr(Obj(aweme_id=ID, user_name=opt(STR), bind_status=INT, reason=opt(STR))),
    total_count=INT,
)
# POST /api/apps/v1/capacity/unbind_aweme_relation/ (SK AppsCapacityUnbindAwemeRelationV1Response):
# nothing beyond the err_no envelope.
AWEME_UNBIND = Obj()
