"""The 商品库 table's rows, as HTML built in Python.

A page shows 50 rows of about 25 values each. Through Jinja, every value is an output statement,
an attribute lookup and an escape: about 60 µs a row on a 2-core machine, most of the page's
rendering. Here a row is one f-string, about a tenth of that. The markup exists only here; the
list and the one-row htmx swap (`catalog/_product_row.html`) both output `product_rows(...)`.

Every value that comes from the database or a translation passes through `escape`; the constant
pieces of a language (badges, labels) are built and escaped once per language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

from portal.catalog.models import ProductKind, ReviewStatus
from portal.i18n import gettext as _
from portal.money import format_fen

REVIEW_CLASSES = {ReviewStatus.DRAFT: "secondary", ReviewStatus.REVIEWING: "warning", ReviewStatus.APPROVED: "success", ReviewStatus.REJECTED: "danger",
                  "approved_offline": "info"}


def _badge(cls: str, text: str, extra: str = "") -> str:
    return f'<span class="badge text-bg-{cls}"{extra}>{escape(text)}</span>'


@dataclass(frozen=True)
class RowLabels:
    """A language's constant pieces of a row, escaped."""

    kinds: Mapping[str, str]
    reviews: Mapping[str, str]  # review stage (service.review_stage) -> the whole badge
    times: str
    conflict: str
    sync_failed: str
    syncing: str
    on: str
    off: str
    buyable: str
    not_buyable: str
    paused: str
    take_off: str
    put_on: str
    locked: str

    @classmethod
    def build(cls, kind_labels: Mapping[str, str], review_labels: Mapping[str, str]) -> RowLabels:
        """In the current request's language."""
        return cls(
            kinds={kind: str(escape(label)) for kind, label in kind_labels.items()},
            reviews={
                status: f'<span class="badge text-bg-{REVIEW_CLASSES[status]}" data-review="{status}">{escape(label)}</span>'
                for status, label in review_labels.items()
            },
            times=str(escape(_(" 次"))),
            conflict=_badge("danger catalog-conflict", _("冲突待处理")),
            sync_failed=_badge("danger", _("同步到抖音失败")),
            syncing=_badge("info", _("正在同步到抖音")),
            on=_badge("success", _("上架")),
            off=_badge("light border", _("下架")),
            buyable=_badge("success", _("可购买"), ' data-buyable="yes"'),
            not_buyable=_badge("secondary", _("不可购买"), ' data-buyable="no"'),
            paused=f'<div class="small text-danger">{escape(_("已暂停"))}</div>',
            take_off=str(escape(_("设为下架"))),  # a verb: the badges beside it say 上架/下架
            put_on=str(escape(_("设为上架"))),
            locked=str(escape(_("也在其他门店售卖，由总部修改"))),
        )


def product_rows(
    products: Iterable,
    labels: RowLabels,
    *,
    show_url: str,
    csrf_token: str,
    conflicted: set[int],
    store_names: Mapping[int, list[str]],
    pending: Mapping[int, list[str]],
    locked: set[int] = frozenset(),
) -> Markup:
    """One `<tr id="catalog-product-N">` per product (a Product or a row of the list's columns):
    name and kind, conflict and delivery badges, prices, stores, review, both online statuses,
    whether customers can buy it, and the online/offline button. `show_url` is the product
    pages' prefix (a product's page is prefix + id); `pending` holds the statuses of the
    product's messages not yet delivered to Douyin (`service.undelivered`); `locked` the products
    the reader may not change (their button is shown disabled, with the reason)."""
    prefix = escape(show_url)
    csrf = escape(csrf_token)
    html = []
    for p in products:
        pid = p.id
        href = f"{prefix}{pid}"
        kind = labels.kinds[p.kind]
        if p.kind == ProductKind.COUNT_CARD:
            kind = f"{kind} · {p.uses}{labels.times}"
        badges = labels.conflict if pid in conflicted else ""
        statuses = pending.get(pid)
        if statuses:
            badges += labels.sync_failed if "failed" in statuses else labels.syncing
        names = store_names.get(pid)
        stores = "".join(f'<div class="text-truncate" title="{escape(name)}">{escape(name)}</div>' for name in names) if names else "—"
        review = labels.reviews["approved_offline" if p.review_status == ReviewStatus.APPROVED and not p.douyin_online else p.review_status]
        if p.review_status == ReviewStatus.REJECTED and p.review_reason:
            review += f'<div class="small text-danger">（{escape(p.review_reason)}）</div>'
        buyable = labels.buyable if p.buyable else labels.not_buyable
        if p.paused_at:
            buyable += labels.paused
        action = ""
        if not p.delisted_at:
            online = p.local_online
            disabled = " disabled" if p.paused_at and not online else ""
            if pid in locked:
                disabled = f' disabled title="{labels.locked}"'
                badges += f'<div class="small text-muted catalog-locked">{labels.locked}</div>'

            action = (
                f'<form method="post" action="{href}/online" class="d-inline" hx-post="{href}/online"'
                f' hx-target="#catalog-product-{pid}" hx-swap="outerHTML">'
                f'<input type="hidden" name="csrf_token" value="{csrf}">'
                f'<input type="hidden" name="online" value="{"0" if online else "1"}">'
                f'<button class="btn btn-sm btn-outline-primary"{disabled}>{labels.take_off if online else labels.put_on}</button></form>'
            )
        html.append(
            f'<tr id="catalog-product-{pid}"><td class="catalog-name">'
            f'<a href="{href}" class="fw-semibold d-block text-truncate" title="{escape(p.name)}">{escape(p.name)}</a>'
            f'<div class="small text-muted">{kind}</div>{badges}</td>'
            f'<td class="text-nowrap">{format_fen(p.price_fen)}'
            f'<div class="small text-muted text-decoration-line-through">{format_fen(p.original_price_fen)}</div></td>'
            f'<td class="small catalog-stores">{stores}</td><td>{review}</td>'
            f'<td data-col="local" class="text-nowrap">{labels.on if p.local_online else labels.off}</td>'
            f'<td data-col="douyin" class="text-nowrap">{labels.on if p.douyin_online else labels.off}</td>'
            f'<td class="text-nowrap">{buyable}</td><td class="text-nowrap">{action}</td></tr>\n'
        )
    return Markup("".join(html))
