"""Chart geometry for server-rendered inline SVG: no chart library, no script."""

from __future__ import annotations

from dataclasses import dataclass


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


def bar_chart(points: list[tuple[str, int]], *, fmt=str, width: int = 720, height: int = 220, max_labels: int = 12) -> BarChart:
    """Vertical bars for `points` ((label, value), values ≥ 0); `fmt` formats a value for the
    axis and the tooltips."""
    left, right, top, bottom = 72, 8, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((v for _, v in points), default=0))
    slot = plot_w / max(len(points), 1)
    gap = min(4.0, slot * 0.2)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * max(value, 0) / top_value
        bars.append(Bar(left + i * slot + gap / 2, top + plot_h - h, max(slot - gap, 1), h, label, value, f"{label}: {fmt(value)}"))
    ticks = [(top + plot_h - plot_h * k / 4, fmt(top_value * k // 4)) for k in range(5)]
    every = max(1, -(-len(points) // max_labels))
    labels = [(b.x + b.width / 2, b.label) for i, b in enumerate(bars) if i % every == 0]
    return BarChart(width, height, bars, ticks, labels, top + plot_h, left)
