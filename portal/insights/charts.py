"""Chart geometry for server-rendered inline SVG: no chart library, no script."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    title: str


@dataclass
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the horizontal grid lines
    labels: list[tuple[float, str]]  # (x, label) under the axis, thinned to stay legible
    baseline: float
    left: int


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n not below `value` (at least 1)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


TICK_COUNT = 4  # grid steps above the baseline


def tick_step(largest: int, min_step: int = 1) -> int:
    """A nice whole step so that TICK_COUNT steps reach `largest`; never below `min_step`, so an
    all-zero chart still gets distinct labels (0, 1, 2, 3, 4 × min_step)."""
    return nice_ceiling(max(-(-largest // TICK_COUNT), min_step))


def bar_chart(points: list[tuple[str, int]], *, fmt=str, min_step: int = 1, width: int = 720, height: int = 220,
              max_labels: int = 12) -> BarChart:
    """Vertical bars for `points` ((label, value), values ≥ 0); `fmt` formats a value for the
    axis and the tooltips. Axis steps are whole multiples of `min_step` (100 for fen: whole yuan)."""
    left, right, top, bottom = 72, 8, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    step = tick_step(max((v for _, v in points), default=0), min_step)
    top_value = step * TICK_COUNT
    slot = plot_w / max(len(points), 1)
    gap = min(4.0, slot * 0.2)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * max(value, 0) / top_value
        bars.append(Bar(left + i * slot + gap / 2, top + plot_h - h, max(slot - gap, 1), h, label, value, f"{label}: {fmt(value)}"))
    ticks = [(top + plot_h - plot_h * k / TICK_COUNT, fmt(step * k)) for k in range(TICK_COUNT + 1)]
    every = max(1, -(-len(points) // max_labels))
    labels = [(b.x + b.width / 2, b.label) for i, b in enumerate(bars) if i % every == 0]
    return BarChart(width, height, bars, ticks, labels, top + plot_h, left)


def svg(chart: BarChart, id: str, title: str, css: str = "") -> Markup:
    """The chart as inline SVG. Written here rather than in a template loop: a page draws 60
    bars, and every text in it is escaped."""
    parts = [
        f'<svg id="{escape(id)}" class="insights-chart {escape(css)}" viewBox="0 0 {chart.width} {chart.height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="none"><title>{escape(title)}</title>'
    ]
    for y, label in chart.ticks:
        parts.append(f'<line x1="{chart.left}" x2="{chart.width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{chart.left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(label)}</text>')
    for bar in chart.bars:
        parts.append(f'<rect class="bar" x="{bar.x:.1f}" y="{bar.y:.1f}" width="{bar.width:.1f}" height="{bar.height:.1f}" '
                     f'data-value="{bar.value}"><title>{escape(bar.title)}</title></rect>')
    for x, label in chart.labels:
        parts.append(f'<text x="{x:.1f}" y="{chart.height - 6}" text-anchor="middle" class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def share_bar(part: int, whole: int) -> Markup:
    """A table cell's bar: `part` as a share of `whole` (empty when `whole` is 0)."""
    pct = 100 * part / whole if whole else 0
    return Markup(
        '<svg class="insights-share" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">'
        f'<rect class="track" width="100" height="8"/><rect class="fill" width="{pct:.1f}" height="8"/></svg>'
    )
