"""SVG charts rendered in Python: the page needs no JavaScript library, no CDN, no network.

Each chart is a `<figure>` holding an inline `<svg>`. Every drawn figure (a point, a bar
segment) carries what it shows as attributes (`data-metric`, `data-key`, `data-value`) and a
`<title>` a browser shows as its tooltip, so a person hovers for the value and a test reads it
from the DOM. Every text is escaped; an empty input draws a "no data yet" note, never an axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH = 640
HEIGHT = 240
# Room around the plot: the value axis on the left, the category axis below.
LEFT, RIGHT, TOP, BOTTOM = 52, 34, 10, 26
# Horizontal bars: room for the names, and the height of one bar.
LABEL_WIDTH, BAR_HEIGHT, BAR_GAP = 150, 14, 8
MAX_LABEL = 24
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#6b7280")
NO_DATA = "No data yet"

Value = float | int | None


@dataclass(frozen=True)
class Series:
    """One measure across the chart's keys: a line, a bar colour or a stack layer."""

    metric: str  # machine name, as the mart's column (data-metric)
    label: str
    values: dict[str, Value]  # key (an ISO day or a category name) -> value; None: not known
    color: str = ""


def number(value: float | int) -> str:
    """A value as the mart holds it, shortest form: 83.33, 12, -4.5 (never 'nan')."""
    as_float = float(value)
    return str(int(as_float)) if as_float.is_integer() else repr(as_float)


def format_value(value: float | int, unit: str) -> str:
    """A value for people: thousands separated, the unit after it."""
    text = (
        f"{value:,.2f}".rstrip("0").rstrip(".")
        if not float(value).is_integer()
        else f"{int(value):,}"
    )
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}".rstrip()


def nice_max(largest: float, whole: bool = False) -> float:
    """A round top for an axis of four steps: each step 1, 2, 2.5 or 5 x 10^k.

    `whole` (counts): the steps are whole numbers, so no grid line falls between two counts.
    """
    quarter = (largest if largest > 0 else 1.0) / 4
    power = 10.0 ** math.floor(math.log10(quarter))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(s * power for s in steps if s * power >= quarter)
    return 4 * (max(step, 1.0) if whole else step)


def _top(values: Sequence[float]) -> float:
    """The axis top for these values: whole steps when every value is a count."""
    return nice_max(max(values), whole=all(v.is_integer() for v in values))


def _colors(series: Sequence[Series]) -> list[str]:
    return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]


def _figure(name: str, title: str, svg_body: str, height: float, legend: str) -> str:
    """The chart's frame: caption, the `<svg>` with its accessible title, the legend."""
    caption = escape(title)
    return (
        f'<figure class="chart" data-chart="{escape(name)}"><figcaption>{caption}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height:g}" role="img" aria-label="{caption}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{caption}</title>{svg_body}</svg>'
        f"{legend}</figure>"
    )


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{color}"></span>{escape(s.label)}</li>'
        for s, color in zip(series, _colors(series), strict=True)
    )
    return f'<ul class="legend">{items}</ul>'


def empty(name: str, title: str, note: str = NO_DATA) -> str:
    """The chart's place when there is nothing to draw: its title and a note."""
    return (
        f'<figure class="chart empty" data-chart="{escape(name)}">'
        f'<figcaption>{escape(title)}</figcaption><p class="note">{escape(note)}</p></figure>'
    )


def _mark(tag: str, attributes: str, s: Series, key: str, value: float, unit: str) -> str:
    """One drawn figure with its machine-readable value and its tooltip."""
    tip = escape(f"{key} · {s.label}: {format_value(value, unit)}")
    return (
        f'<{tag} {attributes} data-metric="{escape(s.metric)}" data-key="{escape(key)}" '
        f'data-value="{number(value)}"><title>{tip}</title></{tag}>'
    )


@dataclass(frozen=True)
class _Scale:
    """Values from `low` to `high` onto the plot's height, `high` at the top."""

    low: float
    high: float
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value - self.low) / (self.high - self.low)

    def axis(self, unit: str) -> str:
        """Five labelled grid lines from `low` to `high`."""
        lines = []
        for step in range(5):
            value = self.low + (self.high - self.low) * step / 4
            y = self.y(value)
            lines.append(
                f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(format_value(value, unit))}</text>"
            )
        return "".join(lines)


def _key_labels(keys: Sequence[str], x_of: dict[str, float]) -> str:
    """At most six keys under the plot, the first and the last always."""
    shown = keys if len(keys) <= 6 else [keys[round(i * (len(keys) - 1) / 5)] for i in range(6)]
    return "".join(
        f'<text class="tick" x="{x_of[k]:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(k)}</text>"
        for k in dict.fromkeys(shown)
    )


def _known(series: Sequence[Series]) -> list[float]:
    return [float(v) for s in series for v in s.values.values() if v is not None]


def _day_positions(keys: Sequence[str]) -> dict[str, float]:
    """Where each ISO day goes across, by the time between days: a missing day leaves a gap."""
    days = [date.fromisoformat(k) for k in keys]
    span = (days[-1] - days[0]).days or 1
    width = WIDTH - LEFT - RIGHT
    if len(days) == 1:
        return {keys[0]: LEFT + width / 2}
    return {k: LEFT + width * (d - days[0]).days / span for k, d in zip(keys, days, strict=True)}


def line_chart(
    name: str,
    title: str,
    series: Sequence[Series],
    unit: str = "",
    bounds: tuple[float, float] | None = None,
) -> str:
    """Lines over days (ISO keys); a missing value breaks its line.

    `bounds` fixes the value axis (0-100 for a rate, -100-100 for NPS); without it the axis
    runs from 0 to a round number above the largest value.
    """
    known = _known(series)
    if not known:
        return empty(name, title)
    keys = sorted({k for s in series for k in s.values})
    x_of = _day_positions(keys)
    scale = _Scale(*bounds) if bounds else _Scale(min(0.0, *known), _top(known))
    body = [scale.axis(unit), _key_labels(keys, x_of)]
    for s, color in zip(series, _colors(series), strict=True):
        points = [(k, float(v)) for k, v in ((k, s.values.get(k)) for k in keys) if v is not None]
        body.append(
            f'<path class="line" d="{_path(s, keys, x_of, scale)}" stroke="{color}" fill="none"/>'
        )
        body.extend(
            _mark(
                "circle",
                f'cx="{x_of[k]:.1f}" cy="{scale.y(v):.1f}" r="2.5" fill="{color}"',
                s,
                k,
                v,
                unit,
            )
            for k, v in points
        )
    return _figure(name, title, "".join(body), HEIGHT, _legend(series))


def _path(s: Series, keys: Sequence[str], x_of: dict[str, float], scale: _Scale) -> str:
    """The line through a series' known values, lifted over each unknown one."""
    steps, pen_down = [], False
    for key in keys:
        value = s.values.get(key)
        if value is None:
            pen_down = False
            continue
        steps.append(f"{'L' if pen_down else 'M'}{x_of[key]:.1f},{scale.y(float(value)):.1f}")
        pen_down = True
    return " ".join(steps)


def stacked_bar_chart(name: str, title: str, series: Sequence[Series], unit: str = "") -> str:
    """One bar per key (sorted: ISO days in order), its series stacked bottom to top."""
    keys = sorted({k for s in series for k, v in s.values.items() if v})
    if not keys:
        return empty(name, title)
    totals = [sum(float(s.values.get(k) or 0) for s in series) for k in keys]
    scale = _Scale(0.0, _top(totals))
    band = (WIDTH - LEFT - RIGHT) / len(keys)
    x_of = {k: LEFT + band * (i + 0.5) for i, k in enumerate(keys)}
    body = [scale.axis(unit), _key_labels(keys, x_of)]
    for key in keys:
        stacked = 0.0
        for s, color in zip(series, _colors(series), strict=True):
            value = float(s.values.get(key) or 0)
            if value <= 0:
                continue
            base, stacked = scale.y(stacked + value), stacked + value
            height = scale.bottom - scale.y(value)
            geometry = (
                f'x="{x_of[key] - band * 0.4:.1f}" y="{base:.1f}" width="{band * 0.8:.1f}" '
                f'height="{height:.1f}" fill="{color}"'
            )
            body.append(_mark("rect", geometry, s, key, value, unit))
    return _figure(name, title, "".join(body), HEIGHT, _legend(series))


def bar_chart(
    name: str, title: str, categories: Sequence[str], series: Sequence[Series], unit: str = ""
) -> str:
    """Horizontal bars, one group per category (in the given order), one bar per series."""
    known = _known(series)
    if not categories or not known:
        return empty(name, title)
    top = _top(known)
    group = BAR_HEIGHT * len(series) + BAR_GAP
    height = TOP + group * len(categories) + BOTTOM
    left, right = LABEL_WIDTH, WIDTH - RIGHT - 60
    scale = (right - left) / top
    body = []
    for i, category in enumerate(categories):
        y0 = TOP + group * i
        shown = category if len(category) <= MAX_LABEL else category[: MAX_LABEL - 1] + "…"
        body.append(
            f'<text class="label" x="{left - 6}" y="{y0 + group / 2:.1f}" text-anchor="end">'
            f"<title>{escape(category)}</title>{escape(shown)}</text>"
        )
        for j, (s, color) in enumerate(zip(series, _colors(series), strict=True)):
            value = s.values.get(category)
            if value is None:
                continue
            y, width = y0 + BAR_HEIGHT * j, float(value) * scale
            geometry = (
                f'x="{left}" y="{y:.1f}" width="{width:.1f}" height="{BAR_HEIGHT - 2}" '
                f'fill="{color}"'
            )
            body.append(_mark("rect", geometry, s, category, float(value), unit))
            body.append(
                f'<text class="value" x="{left + width + 4:.1f}" y="{y + BAR_HEIGHT - 4:.1f}">'
                f"{escape(format_value(float(value), unit))}</text>"
            )
    return _figure(name, title, "".join(body), height, _legend(series))
