"""The overview's figure tables (days, stores, channels, tracking codes) as HTML built in Python.

As with the library's rows (portal.catalog.rows): some 60 rows of seven or eight figures each
cost several milliseconds through Jinja, an output, a lookup and an escape per figure; here a row
is one f-string. Names (stores, channels, tracking codes) are escaped; figures are numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup, escape

from portal.insights.charts import share_bar
from portal.money import format_fen as fen


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
