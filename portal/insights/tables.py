"""The overview's tables (days, stores, channels, tracking codes, and the follow-up lists) as
HTML built in Python.

As with the library's rows (portal.catalog.rows): some 80 rows of seven or eight values each cost
several milliseconds through Jinja, an output, a lookup and an escape per value; here a row is one
f-string. Everything that is not a number (names, codes, order numbers, phones) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup, escape

from portal.clock import local_text
from portal.insights.charts import share_bar
from portal.money import format_fen as fen
from portal.orders.refs import order_link


def day_rows(rows) -> Markup:
    """Newest day first."""
    html = []
    for row in reversed(rows):
        f, day = row.figures, row.key.isoformat()
        html.append(
            f'<tr id="insights-day-{day}"><td>{day}</td><td class="text-end">{f.orders}</td><td class="text-end">{fen(f.gmv_fen)}</td>'
            f'<td class="text-end">{fen(f.paid_fen)}</td><td class="text-end">{f.redemptions}</td>'
            f'<td class="text-end">{fen(f.refunds_fen)}</td><td class="text-end">{fen(f.settled_net_fen)}</td></tr>\n'
        )
    return Markup("".join(html))


def store_rows(rows, total_paid_fen: int) -> Markup:
    html = []
    for row in rows:
        f = row.figures
        html.append(
            f'<tr id="insights-store-{row.key}"><td>{escape(row.label)}</td><td class="text-end">{f.orders}</td>'
            f'<td class="text-end">{fen(f.gmv_fen)}</td><td class="text-end" data-fen="{f.paid_fen}">{fen(f.paid_fen)}</td>'
            f'<td>{share_bar(f.paid_fen, total_paid_fen)}</td><td class="text-end">{f.redemptions}</td>'
            f'<td class="text-end">{fen(f.refunds_fen)}</td><td class="text-end">{fen(f.settled_net_fen)}</td></tr>\n'
        )
    return Markup("".join(html))


def channel_rows(rows, total_paid_fen: int) -> Markup:
    html = []
    for row in rows:
        f = row.figures
        html.append(
            f'<tr id="insights-channel-{escape(row.key)}"><td>{escape(row.label)}</td><td class="text-end">{f.orders}</td>'
            f'<td class="text-end" data-fen="{f.paid_fen}">{fen(f.paid_fen)}</td><td>{share_bar(f.paid_fen, total_paid_fen)}</td>'
            f'<td class="text-end">{f.redemptions}</td><td class="text-end">{fen(f.refunds_fen)}</td>'
            f'<td class="text-end" data-fen="{f.settled_net_fen}">{fen(f.settled_net_fen)}</td><td class="text-end">{fen(f.settled_fees_fen)}</td></tr>\n'
        )
    return Markup("".join(html))


def code_rows(rows, channel_labels: Mapping[str, str]) -> Markup:
    html = []
    for row in rows:
        f, channel, code = row.figures, escape(row.key[0]), escape(row.label)
        html.append(
            f'<tr class="insights-code" data-code="{code}" data-channel="{channel}"><td><code>{code}</code></td>'
            f'<td>{escape(channel_labels[row.key[0]])}</td><td class="text-end" data-metric="orders">{f.orders}</td>'
            f'<td class="text-end" data-metric="paid_fen" data-fen="{f.paid_fen}">{fen(f.paid_fen)}</td>'
            f'<td class="text-end" data-metric="redemptions">{f.redemptions}</td><td class="text-end">{f.long_redemptions}</td>'
            f'<td class="text-end">{fen(f.refunds_fen)}</td>'
            f'<td class="text-end" data-metric="settled_net_fen" data-fen="{f.settled_net_fen}">{fen(f.settled_net_fen)}</td></tr>\n'
        )
    return Markup("".join(html))


def _source(channel_labels: Mapping[str, str], channel: str, tracking_code: str | None) -> str:
    label = escape(channel_labels[channel])
    return f"{label} · <code>{escape(tracking_code)}</code>" if tracking_code else str(label)


def open_order_rows(items, stores: Mapping[int, str], channel_labels: Mapping[str, str], no_store: str) -> Markup:
    """The orders holding vouchers unused a day after payment (service._open_orders)."""
    html = []
    for item in items:
        order, fact = item["order"], item["fact"]
        codes = "".join(f'<code class="me-1">{escape(code)}</code>' for code in item["codes"])
        html.append(
            f'<tr class="insights-open-order" data-order-id="{order.id}"><td>{order_link(order.id, order.douyin_order_id)}</td>'
            f'<td>{escape(stores.get(order.store_id, no_store))}</td><td>{local_text(order.paid_at)}</td>'
            f'<td class="text-end">{item["hours"]}</td><td>{_source(channel_labels, fact.channel, fact.tracking_code)}</td>'
            f'<td>{codes}</td><td>{escape(order.buyer_phone or "—")}</td></tr>\n'
        )
    return Markup("".join(html))


def long_redemption_rows(items, stores: Mapping[int, str], channel_labels: Mapping[str, str], no_store: str) -> Markup:
    """Redemptions more than 1440 minutes after payment (service._long_redemptions)."""
    html = []
    for item in items:
        fact = item["fact"]
        html.append(
            f'<tr class="insights-long-redemption" data-voucher-id="{fact.voucher_id}"><td>{order_link(item["order_id"], item["order_number"])}</td>'
            f'<td><code>{escape(item["code"])}</code></td><td>{escape(stores.get(fact.store_id, no_store))}</td>'
            f'<td>{local_text(fact.paid_at)}</td><td>{local_text(fact.redeemed_at)}</td><td class="text-end">{fact.cycle_minutes // 60}</td>'
            f'<td>{_source(channel_labels, fact.channel, fact.tracking_code)}</td></tr>\n'
        )
    return Markup("".join(html))
