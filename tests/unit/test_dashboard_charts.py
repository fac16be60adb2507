"""The dashboard's SVG charts: values to coordinates and attributes, escaping, empty input."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from intercom_pipeline.dashboard.charts import (
    BOTTOM,
    HEIGHT,
    LABEL_WIDTH,
    LEFT,
    NO_DATA,
    RIGHT,
    TOP,
    WIDTH,
    Series,
    bar_chart,
    format_value,
    line_chart,
    nice_max,
    number,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
PLOT_BOTTOM = HEIGHT - BOTTOM


def marks(html: str, tag: str) -> list[ET.Element]:
    """The drawn figures (`circle` or `rect` with a data-value) of the chart's SVG."""
    svg = re.search(r"<svg.*</svg>", html, re.S)
    assert svg is not None
    root = ET.fromstring(svg.group(0))  # well-formed XML: every text escaped
    return [e for e in root.iter(f"{SVG}{tag}") if "data-value" in e.attrib]


def test_a_line_chart_places_each_day_by_date_and_value() -> None:
    series = Series("satisfaction_rate", "Satisfaction", {"2026-11-01": 50, "2026-11-03": 100})
    html = line_chart("rates", "Rates", [series], unit="%", bounds=(0, 100))
    points = marks(html, "circle")
    assert [(p.get("data-key"), p.get("data-value")) for p in points] == [
        ("2026-11-01", "50"),
        ("2026-11-03", "100"),
    ]
    assert [float(p.get("cx", "")) for p in points] == [LEFT, WIDTH - RIGHT]
    middle = PLOT_BOTTOM - (PLOT_BOTTOM - TOP) / 2
    assert [float(p.get("cy", "")) for p in points] == [middle, TOP]
    assert all(p.get("data-metric") == "satisfaction_rate" for p in points)
    assert "<title>2026-11-03 · Satisfaction: 100%</title>" in html


def test_a_missing_value_breaks_the_line_and_draws_no_point() -> None:
    days = {"2026-11-01": 10.5, "2026-11-02": None, "2026-11-03": 20.25}
    html = line_chart("rates", "Rates", [Series("nps", "NPS", days)], bounds=(-100, 100))
    assert [p.get("data-value") for p in marks(html, "circle")] == ["10.5", "20.25"]
    path = re.search(r'<path class="line" d="([^"]*)"', html)
    assert path is not None
    assert path.group(1).count("M") == 2 and "L" not in path.group(1)
    assert "nan" not in html.lower()


def test_stacked_bars_stack_each_day_and_skip_zero() -> None:
    resolved = Series("resolved", "Resolved", {"2026-11-01": 3, "2026-11-02": 0})
    unresolved = Series("unresolved", "Unresolved", {"2026-11-01": 1, "2026-11-02": 2})
    html = stacked_bar_chart("daily", "Daily", [resolved, unresolved])
    bars = marks(html, "rect")
    assert [(b.get("data-metric"), b.get("data-key"), b.get("data-value")) for b in bars] == [
        ("resolved", "2026-11-01", "3"),
        ("unresolved", "2026-11-01", "1"),
        ("unresolved", "2026-11-02", "2"),
    ]
    # Counts: the axis tops at 4 (four whole steps above the tallest stack, 4).
    unit = (PLOT_BOTTOM - TOP) / 4
    first, second = bars[0], bars[1]
    assert float(first.get("height", "")) == pytest.approx(3 * unit, abs=0.1)
    assert float(first.get("y", "")) + float(first.get("height", "")) == pytest.approx(
        PLOT_BOTTOM, abs=0.1
    )
    assert float(second.get("y", "")) + float(second.get("height", "")) == pytest.approx(
        float(first.get("y", "")), abs=0.1
    )


def test_horizontal_bars_follow_the_categories_order_and_scale() -> None:
    values = {"Billing": 50.0, "Tier 1": 100.0}
    html = bar_chart(
        "times", "Times", ["Tier 1", "Billing"], [Series("median", "Median", values)], unit="min"
    )
    bars = marks(html, "rect")
    assert [b.get("data-key") for b in bars] == ["Tier 1", "Billing"]
    assert [float(b.get("x", "")) for b in bars] == [LABEL_WIDTH, LABEL_WIDTH]
    widths = [float(b.get("width", "")) for b in bars]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.1)
    assert "100 min" in html


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & Co'
    series = Series("m", 'a "quoted" <label>', {hostile: 1})
    html = bar_chart("c<1>", "Title & <more>", [hostile], [series])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert "Title &amp; &lt;more&gt;" in html
    assert 'data-chart="c&lt;1&gt;"' in html
    assert [b.get("data-key") for b in marks(html, "rect")] == [hostile]


@pytest.mark.parametrize(
    "html",
    [
        line_chart("l", "Lines", []),
        line_chart("l", "Lines", [Series("m", "M", {"2026-11-01": None})]),
        stacked_bar_chart("s", "Stacks", [Series("m", "M", {"2026-11-01": 0})]),
        bar_chart("b", "Bars", [], [Series("m", "M", {})]),
    ],
)
def test_no_data_draws_a_note_not_an_axis(html: str) -> None:
    assert NO_DATA in html
    assert "<svg" not in html
    assert 'class="chart empty"' in html


def test_numbers_keep_the_marts_value_and_read_well() -> None:
    assert [number(v) for v in (83.33, 12.0, -4.5, 3)] == ["83.33", "12", "-4.5", "3"]
    assert format_value(2726.47, "min") == "2,726.47 min"
    assert format_value(70.1, "%") == "70.1%"
    assert format_value(1114, "") == "1,114"
    assert [nice_max(v) for v in (0, 0.7, 4, 37, 135.57)] == [1, 0.8, 4, 40, 200]
    assert [nice_max(v, whole=True) for v in (0, 3, 5, 37, 251)] == [4, 4, 8, 40, 400]
