"""A store's Douyin page (POI): what customers see on it, kept in the portal and pushed to Douyin.

- The page is the store's name, address and front-desk phone, a cover image and opening hours by
  weekday. Saving it queues a push (poi/supplier/sync) when the store is bound to a POI; Douyin
  reviews every push (poi/supplier/query: under review, approved, or rejected with a reason).
- The phone is a mobile number (1[3-9] and 9 digits) or a landline with its area code.
- Douyin's page takes opening time as "HH:mm-HH:mm" ranges with no weekday: the push sends the
  distinct ranges of the week; the weekdays stay here and in the follow-up message's text.
- A mismatch is a field where the POI as Douyin returns it (shop/poi/query: name, address;
  supplier/query: phone, masked) differs from the store.
"""

from __future__ import annotations

import re
from datetime import datetime

from portal import audit, outbox
from portal.accounts.models import Store
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.errors import SettingsError
from portal.settings.models import StorePage, StorePageStatus

PUSH_KIND = "settings.store_page"
WEEKDAYS = {"1": _l("周一"), "2": _l("周二"), "3": _l("周三"), "4": _l("周四"), "5": _l("周五"), "6": _l("周六"), "7": _l("周日")}
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^(0\d{2,3})-?(\d{7,8})$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})$")
_SPLIT = re.compile(r"[,，;；、\s]+(?=\d)")
# Last-sync status of poi/supplier/query (see tests/contracts/fixtures/poi_supplier_query.json).
REVIEW_STATES = {0: StorePageStatus.PENDING, 1: StorePageStatus.APPROVED, 2: StorePageStatus.REJECTED}
MISMATCH_FIELDS = {"name": _l("门店名称"), "address": _l("地址"), "phone": _l("电话")}


def normalize_phone(value: str) -> str:
    """The front-desk phone as pushed: 13912345678 or 0755-88886666. Raises SettingsError."""
    text = re.sub(r"[\s()（）]", "", value or "")
    if not text:
        return ""
    if MOBILE.match(text):
        return text
    landline = LANDLINE.match(text)
    if landline:
        digits = landline.group(1) + landline.group(2)
        # 010 and 02x are the three-digit area codes; every other one has four digits.
        area = 3 if digits.startswith(("010", "02")) else 4
        number = digits[area:]
        if 7 <= len(number) <= 8:
            return f"{digits[:area]}-{number}"
    raise SettingsError(_l("电话应为 11 位手机号（如 13912345678）或带区号的座机号（如 0755-88886666）"), field="phone")


def parse_ranges(text: str, day: str) -> list[str]:
    """One day's opening ranges, "10:00-14:00, 17:00-22:00" → ["10:00-14:00", "17:00-22:00"]; empty
    is closed. Ranges end after they start (24:00 allowed) and do not overlap. Raises SettingsError."""
    text = (text or "").strip()
    if not text or text in ("休息", "closed"):
        return []
    field = f"hours_{day}"
    ranges: list[tuple[int, int]] = []
    for part in _SPLIT.split(text):
        match = _RANGE.match(part.strip())
        if not match:
            raise SettingsError(_l("%(day)s的营业时间应写成 10:00-22:00，多段用逗号分隔", day=WEEKDAYS[day]), field=field)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
            raise SettingsError(_l("%(day)s的时段 %(range)s 不成立：结束时间应晚于开始时间（最晚 24:00）", day=WEEKDAYS[day], range=part.strip()), field=field)
        ranges.append((start, end))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        if start < end:
            raise SettingsError(_l("%(day)s的时段有重叠", day=WEEKDAYS[day]), field=field)
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in ranges]


def summary(hours: dict) -> str:
    """"周一至周五 10:00-22:00；周六、周日 09:00-23:00": runs of days with the same ranges; closed days left out."""
    groups: list[tuple[list[str], list[str]]] = []
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        if groups and groups[-1][1] == ranges and int(groups[-1][0][-1]) == int(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], ranges))
    parts = []
    for days, ranges in groups:
        if not ranges:
            continue
        if len(days) >= 3:
            label = str(_l("%(first)s至%(last)s", first=WEEKDAYS[days[0]], last=WEEKDAYS[days[-1]]))
        else:
            label = "、".join(str(WEEKDAYS[d]) for d in days)
        parts.append(f"{label} {','.join(ranges)}")
    return "；".join(parts)


def open_time(hours: dict) -> list[str]:
    """The distinct ranges of the week, as poi/supplier/sync's open_time takes them."""
    return sorted({r for ranges in hours.values() for r in ranges})


def find_page(store: Store) -> StorePage | None:
    return db.session.query(StorePage).filter_by(store_id=store.id).one_or_none()


def get_page(store: Store, *, now: datetime) -> StorePage:
    page = find_page(store)
    if page is None:
        page = StorePage(organization_id=store.organization_id, store_id=store.id, supplier_ext_id=f"store-{store.id}",
                         status=StorePageStatus.DRAFT, hours={}, mismatch={}, cover_image_url="", reason="", supplier_id="",
                         updated_at=now)
        db.session.add(page)
        db.session.flush()
    return page


def save_store_page(store: Store, *, actor, now: datetime, name: str, address: str, phone: str,
                    cover_image_url: str, hours: dict[str, str]) -> StorePage:
    """Check and keep the store page; when the store is bound to a POI, queue its push to Douyin
    (the page is then under review until Douyin decides). Raises SettingsError naming the field
    and changes nothing. Audited. A save that changes nothing pushes nothing."""
    name, address = (name or "").strip(), (address or "").strip()
    if not name:
        raise SettingsError(_l("请输入门店名称"), field="name")
    if len(address) > 200:
        raise SettingsError(_l("地址不能超过 200 个字"), field="address")
    phone = normalize_phone(phone)
    cover = (cover_image_url or "").strip()
    if cover and not re.match(r"^https://\S+$", cover):
        raise SettingsError(_l("头图请填写以 https:// 开头的图片地址"), field="cover_image_url")
    if len(cover) > 500:
        raise SettingsError(_l("图片地址不能超过 500 个字符"), field="cover_image_url")
    parsed = {day: parse_ranges(hours.get(day, ""), day) for day in WEEKDAYS}
    parsed = {day: ranges for day, ranges in parsed.items() if ranges}
    text = summary(parsed)
    if len(text) > 100:
        raise SettingsError(_l("营业时间段太多，请合并相同的时段"), field="hours_1")
    page = get_page(store, now=now)
    changes = {}
    for obj, field, value in ((store, "name", name), (store, "address", address), (store, "phone", phone),
                              (store, "opening_hours", text), (page, "cover_image_url", cover), (page, "hours", parsed)):
        if getattr(obj, field) != value:
            changes[field] = value
            setattr(obj, field, value)
    if not changes:
        return page
    page.updated_at = now
    audit.record("settings.store.updated", actor=actor, obj=store, **changes)
    if store.douyin_poi_id:
        page.status, page.reason, page.pushed_at = StorePageStatus.PENDING, "", None
        outbox.add(store.organization_id, PUSH_KIND, {"store_id": store.id}, dedupe_key=f"{page.id}:{now.isoformat()}")
    db.session.flush()
    return page


def supplier_payload(store: Store, page: StorePage) -> dict:
    """poi/supplier/sync's fields for a store page (what DouyinClient.supplier_sync takes)."""
    phone = store.phone or ""
    mobile = phone if MOBILE.match(phone) else None
    return {
        "poi_id": store.douyin_poi_id, "name": store.name, "supplier_ext_id": page.supplier_ext_id,
        "address": store.address or None, "contact_phone": mobile, "contact_tel": None if mobile or not phone else phone,
        "open_time": open_time(page.hours or {}) or None, "images": [page.cover_image_url] if page.cover_image_url else None,
    }


def deliver_push(message) -> dict:
    """Outbox handler: push the store's page as it is now (a later save overwrites an earlier one:
    the page is keyed by supplier_ext_id). Raises DouyinError to retry."""
    from portal import clock
    from portal.onboarding.connection import delivery_client

    store = db.session.get(Store, message.payload["store_id"])
    page = find_page(store) if store is not None else None
    if page is None or not store.douyin_poi_id:
        return {"skipped": "no store page or POI"}
    reply = delivery_client(message.organization_id).supplier_sync(**supplier_payload(store, page))
    page.supplier_id = str(reply.get("supplier_id") or page.supplier_id)
    page.pushed_at = clock.now()
    page.status, page.reason = StorePageStatus.PENDING, ""
    db.session.flush()
    return {"supplier_id": page.supplier_id}


def _same_phone(ours: str, theirs: str) -> bool:
    """Douyin masks phones (189xxxx8929): a masked character matches any digit."""
    ours, theirs = ours.replace("-", ""), theirs.replace("-", "")
    return len(ours) == len(theirs) and all(t in "x*" or o == t for o, t in zip(ours, theirs))


def refresh_review(store: Store, page: StorePage, *, client, actor=None, now: datetime) -> StorePage:
    """Ask Douyin for the review of the last push and compare the POI with the store.

    Records approved / rejected (with Douyin's reason) when the review is decided, audited once;
    `mismatch` maps each differing field to [ours, Douyin's]. Raises DouyinError when Douyin
    cannot be asked. Idempotent."""
    theirs: dict[str, str] = {}
    if page.pushed_at is not None:
        reply = client.supplier_query(page.supplier_ext_id)
        status = REVIEW_STATES.get(reply["sync_status"]["last_sync_status"], StorePageStatus.PENDING)
        if status != page.status:
            page.status = status
            page.reason = (reply["sync_status"].get("fail_reason") or "")[:200] if status == StorePageStatus.REJECTED else ""
            if status != StorePageStatus.PENDING:
                page.reviewed_at = now
                audit.record("settings.store_page.reviewed", actor=actor, obj=store, status=str(status), reason=page.reason)
        detail = reply.get("data_detail")
        if detail is not None:
            theirs["phone"] = detail.get("contact_phone") or detail.get("contact_tel") or ""
    if store.douyin_poi_id:
        poi = next((entry["poi"] for entry in client.iter_pois() if str(entry["poi"]["poi_id"]) == store.douyin_poi_id), None)
        if poi is not None:
            theirs["name"], theirs["address"] = poi["poi_name"], poi.get("address") or ""
    mismatch = {}
    if "name" in theirs and theirs["name"] != store.name:
        mismatch["name"] = [store.name, theirs["name"]]
    if "address" in theirs and theirs["address"] != (store.address or ""):
        mismatch["address"] = [store.address or "", theirs["address"]]
    if "phone" in theirs and not _same_phone(store.phone or "", theirs["phone"]):
        mismatch["phone"] = [store.phone or "", theirs["phone"]]
    page.mismatch, page.checked_at = mismatch, now
    db.session.flush()
    return page

