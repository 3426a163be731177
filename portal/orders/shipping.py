"""Courier orders (快递商品): the carrier and tracking number of a shipment, and what Douyin is told.

Douyin learns a goods order's progress through trade_basic `fulfill_push_status` (fixtures
fulfill_push_status and fulfill_push_status_delivered): "fulfilling" when it is shipped, "fulfilled"
when it is delivered. The reference call carries no carrier or tracking number; those stay here,
on the order's page. Each push travels through the outbox, so a slow Douyin only delays it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from portal.i18n import lazy_gettext as _l

FULFIL = "orders.fulfill_push_status"
TO_SHIPPED = "fulfilling"
TO_DELIVERED = "fulfilled"


@dataclass(frozen=True)
class Carrier:
    code: str  # Douyin's logistics company code (as in its shop logistics APIs)
    name: object
    pattern: str
    hint: object  # what a valid number looks like, shown when one is refused


CARRIERS = {
    c.code: c
    for c in (
        Carrier("shunfeng", _l("顺丰速运"), r"SF\d{12,13}", _l("顺丰单号是 SF 加 12–13 位数字，如 SF1234567890123")),
        Carrier("zhongtong", _l("中通快递"), r"\d{12,15}", _l("中通单号是 12–15 位数字")),
        Carrier("yuantong", _l("圆通速递"), r"YT\d{13,15}", _l("圆通单号是 YT 加 13–15 位数字，如 YT1234567890123")),
        Carrier("yunda", _l("韵达快递"), r"\d{13,15}", _l("韵达单号是 13–15 位数字")),
        Carrier("shentong", _l("申通快递"), r"\d{12,15}", _l("申通单号是 12–15 位数字")),
        Carrier("jd", _l("京东快递"), r"JD[0-9A-Z]{11,15}", _l("京东单号是 JD 加 11–15 位数字或字母，如 JDX000123456789")),
        Carrier("ems", _l("邮政EMS"), r"\d{13}|[A-Z]{2}\d{9}[A-Z]{2}", _l("EMS 单号是 13 位数字，或如 EA123456789CN 的 13 位编号")),
        Carrier("jtexpress", _l("极兔速递"), r"JT\d{13}", _l("极兔单号是 JT 加 13 位数字，如 JT1234567890123")),
    )
}


class TrackingError(ValueError):
    """A carrier or tracking number that cannot be right; `field` names the form field."""

    def __init__(self, message, field: str) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


def normalize_tracking_number(value: str) -> str:
    """What a person meant: full-width characters folded, spaces and dashes dropped, upper case."""
    folded = unicodedata.normalize("NFKC", value or "")
    return re.sub(r"[\s\-]", "", folded).upper()


def check_tracking(carrier_code: str, tracking_number: str) -> tuple[str, str]:
    """The carrier code and normalized tracking number, or TrackingError saying what is wrong."""
    carrier = CARRIERS.get(carrier_code or "")
    if carrier is None:
        raise TrackingError(_l("请选择快递公司"), "carrier")
    number = normalize_tracking_number(tracking_number)
    if not number:
        raise TrackingError(_l("请填写快递单号"), "tracking_number")
    if not re.fullmatch(carrier.pattern, number):
        raise TrackingError(carrier.hint, "tracking_number")
    return carrier.code, number


def carrier_name(code: str) -> str:
    carrier = CARRIERS.get(code or "")
    return str(carrier.name) if carrier else ""
