"""The 抖音推广 app and its five-step wizard: every rule of every step.

Services take explicit arguments (`actor`, `now`), flush and never commit, and raise
`OnboardingError` (message safe to show, `field` naming the form field) for anything the
merchant must fix; `DouyinDown` when Douyin cannot be reached (nothing was saved, try again);
`StepBlocked` when an earlier step must be finished first. Every change writes an audit entry.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from portal import audit, notifications, vault
from portal.accounts.models import Edition, Organization, Store
from portal.douyin import DouyinConfigError, DouyinError, DouyinUnavailable
from portal.douyin.errors import TOKEN_ERROR_CODES
from portal.douyin.signing import PublicKeyError, generate_rsa_keypair, load_public_key_info
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.onboarding import authorization, connection, licence, steps
from portal.onboarding.connection import NotConnected
from portal.onboarding.models import DouyinApp, MiniappReview, MiniappReviewStatus, PaymentOnboardingStatus

# The wizard is interactive: one quick retry, then tell the merchant and let them press 重试.
INTERACTIVE = {"max_retries": 1, "backoff": 0.2}
ALLOWED_EDITIONS = (Edition.ADVANCED, Edition.FLAGSHIP)
REVIEW_LINK = "/onboarding/review"
# package_version/versions audit.status (fixture package_versions).
AUDITING, AUDIT_PASSED, AUDIT_FAILED, AUDIT_WITHDRAWN = 0, 1, 2, 3
# The hosts the portal submits a version for: a local-life mini-program sells on the Douyin app.
REVIEW_HOSTS = ("douyin",)

SHELF_BLOCK_ITEMS = {
    "submitted": _l("已在抖音来客提交「POI货架展示屏蔽申请问卷」"),
    "same_pois": _l("问卷中的门店与本页已授权的抖音门店一致"),
    "understood": _l("已知悉：小程序审核通过前，门店货架暂不展示小程序商品"),
}
FULL_SHELF_ITEMS = {
    "submitted": _l("已在抖音来客提交「POI货架全量展示验收问卷」"),
    "tested": _l("已用预览版完成一次下单、支付与核销测试"),
    "online": _l("门店后台与抖音来客的商品均为「上架」状态"),
}


class OnboardingError(DomainError):
    """A rule was broken; the message is safe to show. `field` names the form field, if any."""


class StepBlocked(OnboardingError):
    """The step cannot be worked on yet; the message says what must happen first."""


class DouyinDown(OnboardingError):
    """Douyin did not answer; nothing was saved and the merchant can simply try again."""


@contextmanager
def _douyin(field: str | None = None, codes: dict | None = None):
    """Turn a Douyin failure into an OnboardingError the merchant understands.

    `codes` maps a Douyin error code to a message, or to (message, field).
    """
    try:
        yield
    except NotConnected as error:
        raise OnboardingError(_l("%(reason)s，请先完成前面的步骤", reason=str(error)), field) from error
    except DouyinConfigError as error:
        raise OnboardingError(_l("配置不完整，无法调用抖音接口"), field) from error
    except DouyinError as error:
        if isinstance(error, DouyinUnavailable) or error.retryable:
            raise DouyinDown(_l("抖音暂时无法访问，本次操作未保存，请稍后点击「重试」")) from error
        mapped = (codes or {}).get(error.code)
        if mapped is not None:
            message, where = mapped if isinstance(mapped, tuple) else (mapped, field)
            raise OnboardingError(message, where) from error
        if error.code in TOKEN_ERROR_CODES or error.code in (10003, 10013):
            raise OnboardingError(_l("AppSecret 已失效，请在第 2 步重新配置"), field) from error
        raise OnboardingError(
            _l("抖音返回错误：%(detail)s（错误码 %(code)s）", detail=error.message, code=error.code), field
        ) from error


# --- facts and progress ------------------------------------------------------------------------


def edition_allows(org: Organization) -> bool:
    return org.edition in ALLOWED_EDITIONS


def latest_review(organization_id: int) -> MiniappReview | None:
    return db.session.scalar(
        select(MiniappReview).where(MiniappReview.organization_id == organization_id).order_by(MiniappReview.id.desc()).limit(1)
    )


def _product_counts(organization_id: int) -> dict[str, int]:
    from portal.catalog.models import Product

    rows = db.session.execute(
        select(Product.review_status, func.count()).where(Product.organization_id == organization_id).group_by(Product.review_status)
    )
    return {status: count for status, count in rows}


def gather_facts(org: Organization) -> steps.Facts:
    """Everything the wizard's progress depends on, read from the database."""
    app = connection.find_app(org.id)
    stores = db.session.scalars(select(Store).where(Store.organization_id == org.id)).all()
    review = latest_review(org.id)
    products = _product_counts(org.id)
    if app is None:
        return steps.Facts(edition_ok=edition_allows(org), enabled=False, stores_total=len(stores))
    return steps.Facts(
        edition_ok=edition_allows(org),
        enabled=app.enabled,
        app_id=app.app_id,
        app_name=app.app_name,
        authorized=authorization.is_authorized(app),
        unauthorized_at=app.unauthorized_at,
        laike_account_id=app.laike_account_id,
        laike_account_name=app.laike_account_name,
        licence=bool(app.licence_path),
        secret_verified=bool(app.app_secret_enc and app.app_secret_verified_at),
        payment_status=app.payment_status,
        payment_reason=app.payment_reason,
        payment_settings=bool(app.payment_salt_enc and app.payment_token_enc and app.merchant_uid),
        stores_total=len(stores),
        stores_bound=sum(1 for s in stores if s.douyin_poi_id),
        shelf_block_confirmed=app.shelf_block_confirmed_at is not None,
        products_reviewing=products.get("reviewing", 0),
        products_approved=products.get("approved", 0),
        app_keys=bool(app.private_key_enc and app.public_key_pem),
        platform_key=bool(app.platform_public_key_pem),
        trade_connected=app.trade_connected_at is not None,
        ka_confirmed=app.ka_confirmed_at is not None,
        review_status=review.status if review else None,
        review_reason=review.reason if review else "",
        full_shelf_confirmed=app.full_shelf_confirmed_at is not None,
    )


def progress(org: Organization) -> list[steps.Step]:
    return steps.derive(gather_facts(org))


def _require_open(app: DouyinApp, number: int) -> None:
    step = progress(app.organization)[number - 1]
    if step.status is steps.Status.BLOCKED:
        raise StepBlocked(step.reason)


# --- app center ----------------------------------------------------------------------------------


def enable_app(org: Organization, *, actor, now: datetime) -> DouyinApp:
    """Switch 抖音推广 on for the whole organization (advanced edition and above). Idempotent."""
    if not edition_allows(org):
        raise OnboardingError(_l("抖音推广仅限高级版及以上使用，当前为基础版；请联系平台客服升级版本"))
    app = connection.get_or_create_app(org.id)
    if not app.enabled:
        app.enabled = True
        app.enabled_at = now
        audit.record("onboarding.app.enabled", actor=actor, obj=app)
    return app


def disable_app(org: Organization, *, actor, now: datetime) -> DouyinApp | None:
    """Switch 抖音推广 off; every setting, key and review is kept for switching it on again."""
    app = connection.find_app(org.id)
    if app is not None and app.enabled:
        app.enabled = False
        audit.record("onboarding.app.disabled", actor=actor, obj=app)
    return app


# --- step 1: 接入准备 ------------------------------------------------------------------------------


def authorization_link(app: DouyinApp, *, redirect_uri: str) -> str:
    """The Douyin page where the merchant picks its mini-program and authorizes the portal's
    third-party platform (tpapp gen_link); Douyin sends the browser back to `redirect_uri` with
    the authorization code. Read-only on our side."""
    _require_open(app, 1)
    if not authorization.latest_ticket():
        raise DouyinDown(_l("抖音尚未向本平台推送授权凭证（component_ticket），请稍后点击「重试」"))
    with _douyin(None, {}):
        return authorization.component_client(**INTERACTIVE).auth_link(redirect_uri=redirect_uri)


# An authorization code that arrives after the AUTHORIZED push already used it is not an error
# within this window: the push got there first and stored the same authorization.
CODE_RACE_WINDOW = timedelta(minutes=10)


def complete_authorization(app: DouyinApp, code: str, *, actor, now: datetime) -> None:
    """Exchange the authorization code for the mini-program's authorizer tokens (stored encrypted)
    after Douyin confirms the AppID exists (app info). Switching to another mini-program drops
    what belonged to the old one (AppSecret, 进件 status, platform key, trade connection, the
    account check); keys and answers stay. A code works once: replaying it changes nothing."""
    _require_open(app, 1)
    code = (code or "").strip()
    if not code:
        raise OnboardingError(_l("抖音未返回授权码，请重新点击「去授权」"))
    try:
        with _douyin(None, {}):
            data = authorization.component_client(**INTERACTIVE).auth_token(authorization_code=code)
    except DouyinDown:
        raise
    except OnboardingError:
        db.session.refresh(app)
        if authorization.is_authorized(app) and app.authorized_at and now - app.authorized_at < CODE_RACE_WINDOW:
            return
        raise
    app_id = str(data.get("authorizer_appid") or app.app_id or "")
    if not app_id:
        raise OnboardingError(_l("抖音未告知授权的小程序，请重新授权"))
    with _douyin(None):  # the name, read with the new authorization itself
        info = connection.public_client(authorizer_token=lambda _stale: str(data["authorizer_access_token"]), **INTERACTIVE).basic_info()
    if app.app_id and app.app_id != app_id:
        app.app_secret_enc = None
        app.app_secret_verified_at = None
        app.payment_status = app.payment_reason = app.payment_merchant_uid = app.payment_channel = None
        app.payment_checked_at = None
        app.platform_public_key_pem = None
        app.trade_connected_at = None
        app.laike_account_name = None
    app.app_id = app_id
    app.app_name = str(info.get("app_name") or app_id)
    app.douyin_subject = str((info.get("subject_audit_info") or {}).get("subject_name") or "").strip()[:100] or None
    authorization.save_tokens(app, data, now=now)
    app.authorized_at, app.unauthorized_at = now, None
    audit.record("onboarding.miniapp.authorized", actor=actor, obj=app, app_id=app_id, app_name=app.app_name)


def _check_account(app: DouyinApp, account_id: str) -> str:
    """The Laike account checked with Douyin: its stores (shop/poi/query with this account_id),
    which Douyin refuses for an account that is not bound to this mini-program. The account's
    name as its stores carry it, else the id (an account with no store yet passes too)."""
    with _douyin(
        "laike_account_id",
        {10004: _l("该来客账号未绑定到此小程序，请先在抖音来客完成「绑定开发者账号」")},
    ):
        data = connection.make_client(connection.credentials(app), **INTERACTIVE).poi_query(page=1, size=1, account_id=account_id)
    for entry in data["pois"]:
        for account in ((entry.get("account") or {}).get(side) or {} for side in ("parent_account", "poi_account")):
            if account.get("account_id") == account_id and account.get("account_name"):
                return str(account["account_name"])
    return account_id


def bind_laike_account(app: DouyinApp, account_id: str, *, actor, now: datetime) -> bool:
    """Bind the Laike account (抖音商家ID). Checked against Douyin when an AppSecret is
    configured; without one it is kept as "待校验" and checked when the AppSecret is saved.
    Returns whether it was checked. A failed check saves nothing."""
    _require_open(app, 1)
    account_id = account_id.strip()
    name = _check_account(app, account_id) if app.app_secret_verified_at and app.app_secret_enc else None
    app.laike_account_id = account_id
    app.laike_account_name = name
    audit.record("onboarding.account.bound", actor=actor, obj=app, account_id=account_id, verified=name is not None)
    return name is not None


def upload_licence(app: DouyinApp, data: bytes, *, watermark: bool, instance_path: str, actor, now: datetime) -> str | None:
    """Store a new business licence (JPEG/PNG, ≤10 MB, really decodable), stamped with
    "仅限抖音小程序使用" when asked. Returns the replaced file's path, for the caller to
    discard after commit."""
    _require_open(app, 1)
    try:
        checked = licence.inspect(data)
        if watermark:
            data = licence.stamp(data)
    except licence.LicenceInvalid as error:
        raise OnboardingError(str(error), "licence") from error
    old = app.licence_path
    app.licence_path = licence.store(instance_path, app.organization_id, data, checked)
    app.licence_format = checked.format
    app.licence_size = len(data)
    app.licence_watermarked = watermark
    app.licence_uploaded_at = now
    audit.record("onboarding.licence.uploaded", actor=actor, obj=app, format=checked.format, size=len(data), watermarked=watermark)
    return old


def watermark_licence(app: DouyinApp, *, instance_path: str, actor, now: datetime) -> str | None:
    """Stamp the stored licence with the watermark (no-op if it already has it); returns the old path."""
    _require_open(app, 1)
    if not app.licence_path:
        raise OnboardingError(_l("请先上传营业执照"), "licence")
    if app.licence_watermarked:
        return None
    data = licence.read(instance_path, app.licence_path)
    try:
        stamped = licence.stamp(data)
        checked = licence.inspect(stamped)
    except licence.LicenceInvalid as error:
        raise OnboardingError(str(error), "licence") from error
    old = app.licence_path
    app.licence_path = licence.store(instance_path, app.organization_id, stamped, checked)
    app.licence_size = len(stamped)
    app.licence_watermarked = True
    app.licence_uploaded_at = now
    audit.record("onboarding.licence.watermarked", actor=actor, obj=app)
    return old


def save_licence_subject(app: DouyinApp, *, subject: str, kind: str, operator: str, actor, now: datetime) -> None:
    """Record the licence's subject as printed on it, its type and (for a 个体工商户, required)
    the operator's name. The step points out a subject that is not the mini-program's as Douyin
    has it registered (`subject_differs`) but keeps what the licence says. A payout account must
    match them (ledger.payout); a bound account that no longer matches cannot receive withdrawals
    until it is bound again."""
    subject, operator = (subject or "").strip(), (operator or "").strip()
    if not subject:
        raise OnboardingError(_l("请填写营业执照上的主体名称"), "subject")
    if kind not in licence.LICENCE_KINDS:
        raise OnboardingError(_l("请选择主体类型"), "kind")
    if kind == "individual" and not operator:
        raise OnboardingError(_l("个体工商户请填写营业执照上的经营者姓名"), "operator")
    app.licence_subject = subject
    app.licence_kind = kind
    app.licence_operator = operator if kind == "individual" else None
    audit.record("onboarding.licence_subject.saved", actor=actor, obj=app, subject=subject, kind=kind, operator=app.licence_operator)
    db.session.flush()


def subject_differs(app: DouyinApp | None) -> bool:
    """Whether the saved licence subject is not the mini-program's subject registered with Douyin
    (read at authorization). A 个体工商户 may be registered under its operator's name."""
    if app is None or not app.licence_subject or not app.douyin_subject:
        return False
    names = [app.licence_subject] + ([app.licence_operator] if app.licence_kind == "individual" else [])
    return not any(licence.same_subject(name, app.douyin_subject) for name in names)


def licence_subject(organization_id: int) -> tuple[str, str, str | None] | None:
    """(subject, kind, operator) entered in the wizard, or None when no subject is recorded."""
    row = db.session.execute(select(DouyinApp.licence_subject, DouyinApp.licence_kind, DouyinApp.licence_operator)
                             .where(DouyinApp.organization_id == organization_id)).first()
    if row is None or not row.licence_subject:
        return None
    return row.licence_subject, row.licence_kind or "enterprise", row.licence_operator


# --- step 2: 担保支付 ------------------------------------------------------------------------------


def save_app_secret(app: DouyinApp, secret: str, *, actor, now: datetime) -> None:
    """Verify the AppSecret live (fetch a client_token with it), then store it encrypted.

    A Laike account waiting for its check is checked now; if that check fails the account
    simply stays unchecked (step 1 says so), the AppSecret is still saved.
    """
    _require_open(app, 2)
    secret = secret.strip()
    with _douyin(
        "app_secret",
        {
            10013: _l("AppSecret 不正确，请在抖音小程序后台「开发设置」中复制"),
            10003: _l("抖音不认识该小程序的 AppID，请回到第 1 步检查"),
        },
    ):
        connection.make_client(connection.credentials(app, app_secret=secret), **INTERACTIVE).fetch_client_token()
    app.app_secret_enc = vault.encrypt(secret)
    app.app_secret_verified_at = now
    audit.record("onboarding.secret.verified", actor=actor, obj=app)
    if app.laike_account_id and not app.laike_account_name:
        try:
            app.laike_account_name = _check_account(app, app.laike_account_id)
        except OnboardingError:
            pass


# ecpay's status words (the sandbox's; no public reference lists them) and our names for them.
ECPAY_STATUS = {
    "SUCCESS": PaymentOnboardingStatus.APPROVED,
    "PROCESSING": PaymentOnboardingStatus.REVIEWING,
    "FAIL": PaymentOnboardingStatus.REJECTED,
    **{status.value: status for status in PaymentOnboardingStatus},
}
_STATUS_RANK = [PaymentOnboardingStatus.APPROVED, PaymentOnboardingStatus.REVIEWING, PaymentOnboardingStatus.REJECTED]


def refresh_payment_status(app: DouyinApp, merchant_id: str, *, actor, now: datetime) -> str:
    """Read the 支付进件 status of `merchant_id` (the 商户号 Douyin gave when the 进件 was filed)
    from Douyin's ecpay query_merchant_status and remember it, with the channel that holds the
    money (the approved one when several are listed); returns the status. No channel listed is
    NOT_STARTED; a status word we do not know is refused with the word shown."""
    _require_open(app, 2)
    if not app.app_secret_verified_at:
        raise OnboardingError(_l("请先配置 AppSecret，再查询进件状态"))
    merchant_id = (merchant_id or "").strip()
    with _douyin():
        data = connection.client_for(app.organization_id, **INTERACTIVE).query_merchant_status(merchant_id)
    entries = []
    for field in ("merchant_status_info", "pay_status_info", "new_merchant_status_info"):
        for channel, info in (data.get(field) or {}).items():
            status = ECPAY_STATUS.get(str(info["status"]).upper())
            if status is None:
                raise OnboardingError(_l("抖音返回了未知的进件状态：%(status)s", status=info["status"]))
            entries.append((channel, status, info))
    if entries:
        channel, status, info = min(entries, key=lambda e: _STATUS_RANK.index(e[1]) if e[1] in _STATUS_RANK else len(_STATUS_RANK))
        reason = str(info.get("reject_reason") or "") or None
    else:
        channel, status, reason = None, PaymentOnboardingStatus.NOT_STARTED, None
    app.payment_status = status.value
    app.payment_reason = reason if status == PaymentOnboardingStatus.REJECTED else None
    app.payment_merchant_uid = merchant_id
    app.payment_channel = channel
    app.payment_checked_at = now
    audit.record("onboarding.payment.checked", actor=actor, obj=app, status=status.value, channel=channel)
    return status.value


def save_payment_settings(app: DouyinApp, *, salt: str, token: str, merchant_uid: str, actor, now: datetime) -> None:
    """Store the 支付设置 (SALT and Token encrypted). A blank SALT or Token keeps the stored one;
    the merchant uid must match the one Douyin reported for the 进件, when known."""
    _require_open(app, 2)
    salt, token, merchant_uid = (salt or "").strip(), (token or "").strip(), (merchant_uid or "").strip()
    if not salt and not app.payment_salt_enc:
        raise OnboardingError(_l("请填写支付 SALT"), "salt")
    if not token and not app.payment_token_enc:
        raise OnboardingError(_l("请填写支付 Token"), "token")
    if app.payment_merchant_uid and merchant_uid != app.payment_merchant_uid:
        raise OnboardingError(
            _l("商户号与抖音进件的商户号（%(uid)s）不一致，请核对", uid=app.payment_merchant_uid), "merchant_uid"
        )
    if salt:
        app.payment_salt_enc = vault.encrypt(salt)
    if token:
        app.payment_token_enc = vault.encrypt(token)
    app.merchant_uid = merchant_uid
    audit.record("onboarding.payment.configured", actor=actor, obj=app, merchant_uid=merchant_uid)


# --- step 3: 商品库 --------------------------------------------------------------------------------


def authorize_store(app: DouyinApp, store: Store, *, account_id: str, poi_id: str, actor, now: datetime) -> None:
    """Map one of our stores to its Douyin POI after the POI query confirms it belongs to the
    account. Each store maps to one POI and each POI to one store."""
    _require_open(app, 3)
    if store.organization_id != app.organization_id:
        raise OnboardingError(_l("门店不属于该商户"))
    account_id, poi_id = account_id.strip(), poi_id.strip()
    taken = db.session.scalar(select(Store).where(Store.douyin_poi_id == poi_id, Store.id != store.id))
    if taken is not None:
        if taken.organization_id == store.organization_id:
            raise OnboardingError(_l("该抖音门店已授权给「%(name)s」", name=taken.name), "douyin_poi_id")
        raise OnboardingError(_l("该抖音门店已被其他商户授权，如有疑问请联系客服"), "douyin_poi_id")
    with _douyin(
        "douyin_poi_id",
        {10004: (_l("该抖音商家ID未授权给本小程序，请先在抖音来客完成「第三方应用授权」"), "douyin_account_id")},
    ):
        client = connection.make_client(connection.credentials(app), **INTERACTIVE)
        # shop/poi/query has no poi_id filter: page through the account's stores.
        entry = next((e for e in client.iter_pois(account_id=account_id) if e["poi"]["poi_id"] == poi_id), None)
    if entry is None:
        raise OnboardingError(_l("抖音未找到该门店，请检查抖音门店ID"), "douyin_poi_id")
    owners = [a["account_id"] for a in (entry.get("account") or {}).values() if a and a.get("account_id") is not None]
    if owners and account_id not in {str(o) for o in owners}:
        raise OnboardingError(_l("该门店不属于此抖音商家ID"), "douyin_poi_id")
    store.douyin_account_id = account_id
    store.douyin_poi_id = poi_id
    store.douyin_poi_name = entry["poi"]["poi_name"][:100] or None
    store.poi_bound_at = now
    audit.record("onboarding.store.authorized", actor=actor, obj=store, account_id=account_id, poi_id=poi_id)


def _confirm(items: dict, answers: dict) -> dict:
    for key in items:
        if not answers.get(key):
            raise OnboardingError(_l("请确认此项"), key)
    return {key: True for key in items}


def confirm_shelf_block(app: DouyinApp, answers: dict, *, actor, now: datetime) -> None:
    """The POI shelf-block questionnaire: every line must be confirmed."""
    _require_open(app, 3)
    app.shelf_block_answers = _confirm(SHELF_BLOCK_ITEMS, answers)
    app.shelf_block_confirmed_at = now
    audit.record("onboarding.shelf_block.confirmed", actor=actor, obj=app)


# --- step 4: 交易系统 ------------------------------------------------------------------------------


def generate_app_keys(app: DouyinApp, *, actor, now: datetime) -> None:
    """A new RSA-2048 app key pair (private half encrypted). The trade connection must then be
    tested again, after the merchant uploads the new public key to Douyin."""
    _require_open(app, 4)
    private_pem, public_pem = generate_rsa_keypair(2048)
    app.private_key_enc = vault.encrypt(private_pem)
    app.public_key_pem = public_pem
    app.trade_connected_at = None
    audit.record("onboarding.keys.generated", actor=actor, obj=app)


# The goods type of the reference's tag_query sample (SK TradeBasicDeveloperTagQueryV1Request.json):
# the call only has to succeed, its tag groups are not used.
TAG_QUERY_GOODS_TYPE = 101

PUBLIC_KEY_ERRORS = {
    "not_pem": _l("不是有效的 PEM 公钥，请完整复制「-----BEGIN PUBLIC KEY-----」到「-----END PUBLIC KEY-----」"),
    "not_rsa": _l("这不是 RSA 公钥，抖音平台公钥应为 RSA-2048"),
    "too_short": _l("公钥长度不足，抖音要求 RSA 2048 位及以上"),
}


def connect_trade(app: DouyinApp, platform_public_key: str, key_version: str, *, actor, now: datetime) -> None:
    """Connect (or reconnect) the trade system: the app key pair exists (its public half signs
    nothing Douyin checks here, but the mini-program's requestOrder is signed with it), the
    platform public key (which checks the trade callbacks) is an RSA ≥2048 PEM key, and a
    trade_basic test call (tag_query) passes with our access token, which proves the AppSecret
    and the mini-program's trade system. Nothing is saved unless all hold."""
    _require_open(app, 4)
    if not (app.private_key_enc and app.public_key_pem):
        raise OnboardingError(_l("请先生成应用密钥，并把应用公钥填到抖音开发者后台"), "platform_public_key")
    pem = (platform_public_key or "").strip()
    try:
        load_public_key_info(pem)
    except PublicKeyError as error:
        raise OnboardingError(PUBLIC_KEY_ERRORS.get(error.reason, PUBLIC_KEY_ERRORS["not_pem"]), "platform_public_key") from error
    key_version = (key_version or "1").strip()
    with _douyin("platform_public_key"):
        creds = replace(connection.credentials(app), key_version=key_version, platform_public_key_pem=pem)
        connection.make_client(creds, **INTERACTIVE).tag_query(TAG_QUERY_GOODS_TYPE)
    app.platform_public_key_pem = pem
    app.key_version = key_version
    app.trade_connected_at = now
    audit.record("onboarding.trade.connected", actor=actor, obj=app, key_version=key_version)


def confirm_ka(app: DouyinApp, confirmed: bool, *, actor, now: datetime) -> None:
    """The merchant confirms the 【KA】三方码 capability package was applied for."""
    _require_open(app, 4)
    if not confirmed:
        raise OnboardingError(_l("请确认此项"), "confirmed")
    app.ka_confirmed_at = now
    audit.record("onboarding.ka.confirmed", actor=actor, obj=app)


# --- step 5: 提审 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewCandidate:
    """What Douyin would review now: its test version (latest uploaded), the hosts to review it
    for, whether it is the version whose last audit failed (resubmitted with audit_way 1), and
    anything that stops a submission (empty = ready)."""

    version: str | None
    hosts: tuple[str, ...]
    resubmit_failed: bool
    problems: list[str]


def preview_check(app: DouyinApp, *, client=None) -> ReviewCandidate:
    """Read the mini-program's versions and audit hosts from Douyin (package_version/versions,
    get_audit_hosts) and say whether its test version can be submitted. Read-only. `client`: the
    caller's own Douyin client for the app, when it has one."""
    if not app.enabled or not app.app_secret_verified_at:
        raise StepBlocked(_l("请先完成第 2 步：配置 AppSecret"))
    with _douyin():
        client = client or connection.client_for(app.organization_id, **INTERACTIVE)
        versions = client.package_versions()
        offered = [str(h) for h in client.package_audit_hosts()["host_names"]]
    latest, audit_version = versions.get("latest"), versions.get("audit")
    problems: list[str] = []
    if latest is None:
        problems.append(str(_l("抖音上还没有测试版本：请先在抖音开放平台上传小程序代码")))
    hosts = tuple(h for h in offered if h in REVIEW_HOSTS)
    if not hosts:
        problems.append(str(_l("抖音暂未开放本小程序在抖音 App 上提审（可选宿主端：%(hosts)s）", hosts="、".join(offered) or "-")))
    same = latest is not None and audit_version is not None and audit_version["version"] == latest["version"]
    status = audit_version["status"] if same else None
    if status == AUDITING:
        problems.append(str(_l("版本 %(version)s 正在抖音审核中", version=latest["version"])))
    elif status == AUDIT_PASSED:
        problems.append(str(_l("测试版本 %(version)s 已通过审核：如需更新，请先在抖音开放平台上传新的测试版本", version=latest["version"])))
    return ReviewCandidate(latest["version"] if latest else None, hosts, status == AUDIT_FAILED, problems)


def submit_for_review(app: DouyinApp, *, description: str, actor, now: datetime) -> MiniappReview:
    """Submit the mini-program's test version for review on the Douyin app (package_version/audit):
    steps 1-4 done, no review running, the check passes. A version whose last audit failed is
    resubmitted as such. Not idempotent on Douyin's side, so never retried automatically."""
    _require_open(app, 5)
    description = (description or "").strip()
    latest = latest_review(app.organization_id)
    if latest is not None and latest.status == MiniappReviewStatus.REVIEWING:
        raise OnboardingError(_l("已有版本在审核中，请等待审核结果"))
    with _douyin():
        client = connection.client_for(app.organization_id, **INTERACTIVE)
    candidate = preview_check(app, client=client)
    if candidate.problems:
        raise OnboardingError(_l("暂不能提交审核：%(problems)s", problems="；".join(candidate.problems)))
    with _douyin():
        client.package_audit(
            host_names=list(candidate.hosts), audit_note=description or None, resubmit_failed=candidate.resubmit_failed)
    review = MiniappReview(
        organization_id=app.organization_id,
        # The platform numbers no audit; each submission gets the portal's own key.
        audit_id=uuid.uuid4().hex,
        version=candidate.version,
        description=description,
        status=MiniappReviewStatus.REVIEWING,
        reason="",
        submitted_by_id=getattr(actor, "id", None),
        submitted_at=now,
    )
    db.session.add(review)
    db.session.flush()
    audit.record("onboarding.review.submitted", actor=actor, obj=review, version=review.version,
                 hosts=list(candidate.hosts), resubmitted=candidate.resubmit_failed)
    return review


def _decision(review: MiniappReview, client) -> tuple[MiniappReviewStatus, str] | None:
    """The decision on `review` as Douyin's versions show it, releasing an approved version that
    is not online yet (Douyin does not put it online by itself); None while it runs."""
    audit_version = client.package_versions().get("audit")
    if audit_version is None or audit_version["version"] != review.version:
        return None
    status = audit_version["status"]
    if status == AUDIT_FAILED:
        return MiniappReviewStatus.REJECTED, str(audit_version.get("reason") or "")
    if status == AUDIT_WITHDRAWN:
        return MiniappReviewStatus.REJECTED, str(_l("审核已撤回"))
    if status != AUDIT_PASSED:
        return None
    if audit_version.get("is_illegal_version"):
        return MiniappReviewStatus.REJECTED, str(_l("该版本曾被下架，不能发布：请上传新的测试版本后重新提审"))
    if not audit_version.get("has_publish"):
        client.package_release()
    return MiniappReviewStatus.APPROVED, ""


def refresh_review(review: MiniappReview, *, now: datetime, min_interval: timedelta = timedelta(0)) -> MiniappReview:
    """Ask Douyin for the decision on a running review (at most once per `min_interval`); an
    approved version is released at once, so 已通过 means online. The first caller to see a
    decision records it and notifies the merchant (kind miniapp_review); later callers change
    nothing. A failed release leaves the review running, and the next refresh tries again."""
    if review.status != MiniappReviewStatus.REVIEWING:
        return review
    if review.checked_at is not None and now - review.checked_at < min_interval:
        return review
    with _douyin():
        decision = _decision(review, connection.client_for(review.organization_id, **INTERACTIVE))
    review.checked_at = now
    if decision is None:
        return review
    status, reason = decision
    won = db.session.execute(
        update(MiniappReview)
        .where(MiniappReview.id == review.id, MiniappReview.status == MiniappReviewStatus.REVIEWING)
        .values(status=status, reason=reason, decided_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won:
        if status == MiniappReviewStatus.APPROVED:
            title = _l("小程序审核已通过")
            body = _l("版本 %(version)s 已通过抖音审核并已发布上线，请填写「POI货架全量展示验收问卷」后开放货架", version=review.version)
        else:
            title = _l("小程序审核未通过")
            body = _l("版本 %(version)s 未通过审核：%(reason)s", version=review.version, reason=reason or _l("未说明原因"))
        notifications.notify(review.organization_id, "miniapp_review", title, body, link=REVIEW_LINK)
        audit.record("onboarding.review.decided", obj=review, status=str(status), reason=reason)
    db.session.refresh(review)
    return review


def refresh_open_reviews(*, now: datetime) -> list[int]:
    """Ids of every running review, for the periodic poll to refresh one by one."""
    return list(db.session.scalars(select(MiniappReview.id).where(MiniappReview.status == MiniappReviewStatus.REVIEWING)))


@dataclass(frozen=True)
class TestOrder:
    """Whether a test order can exist yet (a product customers can buy), and the first paid order
    if one has arrived (which answers the questionnaire's test line by itself)."""

    possible: bool
    order: object | None


def test_order(organization_id: int) -> TestOrder:
    from portal.catalog.models import Product
    from portal.orders.models import Order

    order = db.session.scalar(
        select(Order).where(Order.organization_id == organization_id, Order.paid_at.is_not(None)).order_by(Order.paid_at).limit(1)
    )
    buyable = db.session.scalar(select(Product.id).where(Product.organization_id == organization_id, Product.buyable).limit(1))
    return TestOrder(order is not None or buyable is not None, order)


def confirm_full_shelf(app: DouyinApp, answers: dict, *, actor, now: datetime) -> None:
    """After approval: the POI full-shelf acceptance questionnaire, every line confirmed. The test
    order line is asked only when a test order can exist (a product customers can buy), and is
    answered by itself once a paid order has arrived."""
    latest = latest_review(app.organization_id)
    if latest is None or latest.status != MiniappReviewStatus.APPROVED:
        raise StepBlocked(_l("小程序审核通过后才能填写验收问卷"))
    tested = test_order(app.organization_id)
    asked = {k: v for k, v in FULL_SHELF_ITEMS.items() if k != "tested" or (tested.possible and tested.order is None)}
    app.full_shelf_answers = _confirm(asked, answers) | {"tested": tested.order is not None or bool(answers.get("tested"))}
    app.full_shelf_confirmed_at = now
    audit.record("onboarding.full_shelf.confirmed", actor=actor, obj=app)
