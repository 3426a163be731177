"""The 担保账户 orders table's rows as HTML built in Python.

As with the library's rows (portal.catalog.rows): 50 rows of a dozen values each cost several
milliseconds through Jinja, most of the page; here a row is one f-string. Order numbers and the
fee category come from Douyin and pass through `escape`, as do all labels; the order number
links to the order's page (portal.orders.refs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

from portal.clock import local_text
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.ledger.fees import percent
from portal.ledger.models import LedgerOrderStatus
from portal.money import format_fen as fen
from portal.orders.refs import order_link

# A ledger order's status, as the rows and the orders page's status filter name it.
ORDER_STATUS_LABELS = {LedgerOrderStatus.IN_TRANSIT: _l("在途"), LedgerOrderStatus.SETTLED: _l("已结算"), LedgerOrderStatus.REFUNDED: _l("已退款")}


@dataclass(frozen=True)
class RowLabels:
    """A language's constant pieces of a row, escaped."""

    statuses: dict[str, str]
    sources: dict[str, str]
    normal_source: str
    promo: str

    @classmethod
    def build(cls) -> RowLabels:
        """In the current request's language."""
        return cls(
            statuses={key: str(escape(label)) for key, label in ORDER_STATUS_LABELS.items()},
            sources={key: str(escape(label)) for key, label in (("ad", _("广告订单")), ("alliance", _("精选联盟")))},
            normal_source=str(escape(_("普通订单"))),
            promo=str(escape(_("新商家优惠"))),
        )


def order_rows(ledger_orders: Iterable[tuple[object, str]], labels: RowLabels) -> Markup:
    """One `<tr id="ledger-order-N">` per (row of queries.ORDER_ROW_COLUMNS, why its money is not
    available yet): order number and source, paid time and amount, each fee with its rate,
    the net, the settlement day and the status."""
    html = []
    for lo, why in ledger_orders:
        promo = f" · {labels.promo}" if lo.promo_applied else ""
        if why:
            note = f'<div class="small text-muted">{escape(why)}</div>'
        elif lo.settled_at:
            note = f'<div class="small text-muted">{local_text(lo.settled_at)}</div>'
        else:
            note = ""
        html.append(
            f'<tr id="ledger-order-{lo.order_id}" data-status="{escape(lo.status)}">'
            f'<td>{order_link(lo.order_id, lo.douyin_order_id)}<div class="small text-muted">{labels.sources.get(lo.source, labels.normal_source)}</div></td>'
            f'<td>{local_text(lo.paid_at)}</td><td class="text-end">{fen(lo.paid_fen)}</td>'
            f'<td class="text-end ledger-tech-fee" data-fen="{lo.tech_fee_fen}">{fen(lo.tech_fee_fen)}'
            f'<div class="small text-muted">{escape(lo.fee_category)} {percent(lo.tech_fee_rate)}{promo}</div></td>'
            f'<td class="text-end ledger-channel-fee" data-fen="{lo.channel_fee_fen}">{fen(lo.channel_fee_fen)}</td>'
            f'<td class="text-end ledger-net">{fen(lo.net_fen)}</td>'
            f'<td class="ledger-due">{local_text(lo.due_at, "%Y-%m-%d")}</td>'
            f'<td class="ledger-why">{labels.statuses[lo.status]}{note}</td></tr>\n'
        )
    return Markup("".join(html))
