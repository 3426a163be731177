"""The wizard's progress, derived from facts. Nothing stores "the current step".

`derive(facts)` is a pure function: given what is true about a merchant's Douyin connection
(`Facts`, gathered by `service.gather_facts`), it returns each of the five steps with its
status (done / current / blocked), a Chinese reason and the step's own checklist. A merchant
can leave at any time, come back, or edit a finished step: the rail always follows the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from portal.i18n import lazy_gettext as _l


class Status(StrEnum):
    DONE = "done"
    CURRENT = "current"  # open: nothing blocks it, something is left to do
    BLOCKED = "blocked"  # something outside this step must happen first (the reason says what)


@dataclass(frozen=True)
class Facts:
    edition_ok: bool = True
    enabled: bool = False
    app_id: str | None = None
    app_name: str | None = None
    authorized: bool = False  # the mini-program authorized the portal's third-party platform
    unauthorized_at: datetime | None = None  # Douyin said the authorization was withdrawn
    laike_account_id: str | None = None
    laike_account_name: str | None = None
    licence: bool = False
    secret_verified: bool = False
    payment_status: str | None = None
    payment_reason: str | None = None
    payment_settings: bool = False
    stores_total: int = 0
    stores_bound: int = 0
    shelf_block_confirmed: bool = False
    products_reviewing: int = 0
    products_approved: int = 0
    app_keys: bool = False
    platform_key: bool = False
    trade_connected: bool = False
    ka_confirmed: bool = False
    review_status: str | None = None  # newest MiniappReview.status
    review_reason: str = ""
    full_shelf_confirmed: bool = False


@dataclass(frozen=True)
class Item:
    """One line of a step's checklist (also the pre-flight list of step 5)."""

    key: str
    label: str
    done: bool
    hint: str = ""


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    status: Status
    reason: str
    items: tuple[Item, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        return self.status is Status.DONE

    @property
    def endpoint(self) -> str:
        return f"onboarding.{self.key}"


TITLES = {
    1: ("prepare", _l("接入准备")),
    2: ("payment", _l("担保支付")),
    3: ("products", _l("商品库")),
    4: ("trade", _l("交易系统")),
    5: ("review", _l("提审")),
}

STATUS_LABELS = {
    Status.DONE: _l("已完成"),
    Status.CURRENT: _l("进行中"),
    Status.BLOCKED: _l("暂不可用"),
}

PAYMENT_LABELS = {
    "NOT_STARTED": _l("未进件"),
    "REVIEWING": _l("审核中"),
    "APPROVED": _l("已通过"),
    "REJECTED": _l("已驳回"),
}


def _first_missing(items) -> Item | None:
    return next((i for i in items if not i.done), None)


def _open(number: int, items: tuple[Item, ...], done_reason: str, *, reason: str | None = None) -> Step:
    key, title = TITLES[number]
    missing = _first_missing(items)
    if missing is None:
        return Step(number, key, str(title), Status.DONE, done_reason, items)
    return Step(number, key, str(title), Status.CURRENT, reason or missing.hint or missing.label, items)


def _blocked(number: int, reason: str, items: tuple[Item, ...]) -> Step:
    key, title = TITLES[number]
    return Step(number, key, str(title), Status.BLOCKED, reason, items)


def step1_items(f: Facts) -> tuple[Item, ...]:
    if f.laike_account_name:
        account_hint = ""
    elif f.laike_account_id and not f.secret_verified:
        account_hint = str(_l("来客账号 %(id)s 待校验：配置 AppSecret（第 2 步）后即可校验", id=f.laike_account_id))
    elif f.laike_account_id:
        account_hint = str(_l("来客账号 %(id)s 尚未通过校验，请重新提交", id=f.laike_account_id))
    else:
        account_hint = str(_l("请绑定抖音来客账号"))
    if f.unauthorized_at is not None:
        miniapp_hint = str(_l("小程序 %(app)s 已在抖音取消授权，请点击「去授权」重新授权", app=f.app_name or f.app_id or ""))
    else:
        miniapp_hint = str(_l("请授权抖音小程序：点击「去授权」，在抖音授权页选择小程序并同意授权"))
    return (
        Item("miniapp", str(_l("授权抖音小程序")), bool(f.app_id and f.app_name and f.authorized), miniapp_hint),
        Item("account", str(_l("绑定抖音来客账号")), bool(f.laike_account_id and f.laike_account_name), account_hint),
        Item("licence", str(_l("上传营业执照")), f.licence, str(_l("请上传与小程序主体一致的营业执照"))),
    )


def step2_items(f: Facts) -> tuple[Item, ...]:
    status = f.payment_status
    if status == "APPROVED":
        payment_hint = ""
    elif status == "REVIEWING":
        payment_hint = str(_l("支付进件审核中，请稍后刷新状态"))
    elif status == "REJECTED":
        payment_hint = str(_l("支付进件被驳回：%(reason)s", reason=f.payment_reason or _l("未说明原因")))
    elif status == "NOT_STARTED":
        payment_hint = str(_l("请先在抖音小程序后台「能力-支付」完成进件"))
    else:
        payment_hint = str(_l("请刷新支付进件状态"))
    return (
        Item("secret", str(_l("配置 AppSecret")), f.secret_verified, str(_l("请配置并校验 AppSecret"))),
        Item("onboarding", str(_l("支付进件已通过")), status == "APPROVED", payment_hint),
        Item("settings", str(_l("填写支付设置")), f.payment_settings, str(_l("请填写支付设置（SALT、Token、商户号）"))),
    )


def step3_items(f: Facts) -> tuple[Item, ...]:
    return (
        Item(
            "stores",
            str(_l("门店授权（已授权 %(bound)s/%(total)s 家）", bound=f.stores_bound, total=f.stores_total)),
            f.stores_bound > 0,
            str(_l("请至少为一家门店填写抖音商家ID和抖音门店ID")),
        ),
        Item("shelf_block", str(_l("POI货架展示屏蔽申请问卷")), f.shelf_block_confirmed, str(_l("请确认「POI货架展示屏蔽申请问卷」"))),
    )


def step4_items(f: Facts) -> tuple[Item, ...]:
    return (
        Item("keys", str(_l("生成应用密钥")), f.app_keys, str(_l("请生成应用密钥并把公钥填到抖音开发者后台"))),
        Item("platform_key", str(_l("填写平台公钥")), f.platform_key, str(_l("请粘贴抖音平台公钥"))),
        Item("connected", str(_l("接入交易系统（签名测试通过）")), f.trade_connected, str(_l("请点击「接入」完成签名测试"))),
        Item("ka", str(_l("确认申请【KA】三方码能力包")), f.ka_confirmed, str(_l("请确认已申请【KA】三方码接入接口能力包"))),
    )


def step5_items(f: Facts) -> tuple[Item, ...]:
    return (
        Item("approved", str(_l("小程序审核通过")), f.review_status == "approved", ""),
        Item("full_shelf", str(_l("POI货架全量展示验收问卷")), f.full_shelf_confirmed, ""),
    )


def derive(f: Facts) -> list[Step]:
    """Each step's status and reason, from the facts alone."""
    item_sets = {1: step1_items(f), 2: step2_items(f), 3: step3_items(f), 4: step4_items(f), 5: step5_items(f)}
    if not f.edition_ok:
        reason = str(_l("抖音推广仅限高级版及以上使用，请联系平台客服升级版本"))
        return [_blocked(n, reason, item_sets[n]) for n in range(1, 6)]
    if not f.enabled:
        reason = str(_l("请先开启抖音推广：点左侧菜单「抖音推广」，再点页面右上角的「应用中心」"))
        return [_blocked(n, reason, item_sets[n]) for n in range(1, 6)]

    s1 = _open(1, item_sets[1], str(_l("已完成：小程序 %(app)s，来客账号 %(account)s", app=f.app_name or "", account=f.laike_account_name or "")))

    if not (f.app_id and f.app_name):
        s2 = _blocked(2, str(_l("请先在第 1 步授权抖音小程序")), item_sets[2])
    else:
        s2 = _open(2, item_sets[2], str(_l("已完成：担保支付已开通")))

    if not f.secret_verified:
        s3 = _blocked(3, str(_l("请先在第 2 步配置 AppSecret")), item_sets[3])
    elif not f.laike_account_name:
        s3 = _blocked(3, str(_l("请先在第 1 步绑定并校验抖音来客账号")), item_sets[3])
    else:
        s3 = _open(3, item_sets[3], str(_l("已完成：已授权 %(n)s 家门店", n=f.stores_bound)))

    if not s2.done:
        s4 = _blocked(4, str(_l("接入交易系统前请先完成第 2 步：开通抖音担保支付")), item_sets[4])
    else:
        s4 = _open(4, item_sets[4], str(_l("已完成：交易系统已接入")))

    unfinished = [s for s in (s1, s2, s3, s4) if not s.done]
    if unfinished:
        names = "、".join(str(_l("第 %(n)s 步「%(title)s」", n=s.number, title=s.title)) for s in unfinished)
        s5 = _blocked(5, str(_l("提审前请先完成：%(steps)s", steps=names)), item_sets[5])
    elif f.review_status == "approved":
        s5 = _open(5, item_sets[5], str(_l("小程序已通过审核")), reason=str(_l("小程序已通过审核，请填写「POI货架全量展示验收问卷」")))
    elif f.review_status == "reviewing":
        s5 = _open(5, item_sets[5], "", reason=str(_l("小程序审核中，通常需要 1~3 个工作日")))
    elif f.review_status == "rejected":
        s5 = _open(5, item_sets[5], "", reason=str(_l("审核未通过：%(reason)s。请修改后重新提交", reason=f.review_reason or _l("未说明原因"))))
    else:
        s5 = _open(5, item_sets[5], "", reason=str(_l("可以提交小程序审核了")))
    return [s1, s2, s3, s4, s5]


def next_step(steps: list[Step]) -> Step | None:
    """The first step the merchant can work on now (None when everything is done or blocked)."""
    return next((s for s in steps if s.status is Status.CURRENT), None)


def preflight(steps: list[Step]) -> list[tuple[Step, Item]]:
    """Everything steps 1 to 4 require, each line with its step: the list shown before submitting."""
    return [(s, item) for s in steps if s.number <= 4 for item in s.items]
