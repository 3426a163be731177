"""The overview's inline SVG bar charts: geometry and escaping."""

from bs4 import BeautifulSoup

from portal.insights import charts
from portal.money import format_fen


def test_bars_scale_to_a_nice_ceiling_and_the_svg_escapes_text():
    chart = charts.bar_chart([("11-01", 0), ("11-02", 150), ("<b>", 200)], fmt=lambda v: f"¥{v}")
    assert charts.nice_ceiling(200) == 200 and charts.nice_ceiling(201) == 500 and charts.nice_ceiling(0) == 1
    svg = BeautifulSoup(str(charts.svg(chart, "c1", 'paid "daily" <x>', "secondary")), "html.parser").svg
    assert svg["id"] == "c1" and svg["aria-label"] == 'paid "daily" <x>' and "secondary" in svg["class"]
    bars = svg.select("rect.bar")
    assert [b["data-value"] for b in bars] == ["0", "150", "200"]
    heights = [float(b["height"]) for b in bars]
    assert heights[0] == 0 and heights[2] == chart.baseline - 10 and abs(heights[1] / heights[2] - 0.75) < 0.01
    assert bars[2].title.string == "<b>: ¥200"  # text, not markup
    assert [t.string for t in svg.select("text.tick")][:5] == ["¥0", "¥50", "¥100", "¥150", "¥200"]


def test_share_bar_is_the_part_of_the_whole():
    from portal.insights.charts import share_bar

    assert 'class="fill" width="25.0"' in share_bar(1, 4)
    assert 'class="fill" width="0.0"' in share_bar(5, 0)  # nothing to share


def test_axis_ticks_are_whole_distinct_steps_even_when_everything_is_zero():
    def tick_labels(chart):
        return [label for _, label in chart.ticks]

    assert tick_labels(charts.bar_chart([("11-01", 0), ("11-02", 0)])) == ["0", "1", "2", "3", "4"]
    assert tick_labels(charts.bar_chart([("11-01", 1)])) == ["0", "1", "2", "3", "4"]
    assert tick_labels(charts.bar_chart([("11-01", 7)])) == ["0", "2", "4", "6", "8"]
    assert tick_labels(charts.bar_chart([], fmt=format_fen, min_step=100)) == ["¥0.00", "¥1.00", "¥2.00", "¥3.00", "¥4.00"]
    assert tick_labels(charts.bar_chart([("11-01", 9900)], fmt=format_fen, min_step=100)) == [
        "¥0.00", "¥50.00", "¥100.00", "¥150.00", "¥200.00"]
    assert charts.tick_step(1, min_step=100) == 100 and charts.tick_step(401) == 200
