"""Bar charts as plain geometry for a server-rendered SVG (no script, nothing fetched: CSP-safe and readable
offline, on a phone too). The template draws what :func:`bar_chart` lays out; amounts stay Decimal until
they become coordinates, which are only positions on the screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 28, 40


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int            # which series (CSS class s0, s1, …)
    title: str             # shown on hover / read by screen readers: "2025年 分配 ¥123.00"


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    #: (x, y, text) of each group's label under the axis
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    #: y of the zero line, and the largest value drawn (for the scale note)
    baseline: float = 0.0
    top_value: Decimal = Decimal(0)
    series: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.bars


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round number at or above ``value`` (1, 2, 2.5 or 5 times a power of ten) for the scale."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        ceiling = step.scaleb(exponent)
        if ceiling >= value:
            return ceiling
    return Decimal(10).scaleb(exponent)


def bar_chart(groups: list[tuple[str, list[Decimal]]], series: tuple[str, ...], *, fmt=str,
              width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """Grouped bars: ``groups`` is ``[(label, [value per series])]``. Negative values (a loss) are drawn
    as zero-height bars whose title still says the figure."""
    chart = Chart(width, height, series=series)
    if not groups:
        return chart
    top = _nice_ceiling(max((v for _, values in groups for v in values), default=Decimal(0)))
    chart.top_value = top
    plot_h = height - TOP - BOTTOM
    slot = (width - LEFT - RIGHT) / len(groups)
    bar_w = min(slot * 0.8 / max(len(series), 1), 48.0)
    chart.baseline = TOP + plot_h
    for i, (label, values) in enumerate(groups):
        start = LEFT + i * slot + (slot - bar_w * len(values)) / 2
        for s, value in enumerate(values):
            h = max(value, Decimal(0)) / top * plot_h      # Decimal: figures never pass through float
            chart.bars.append(Bar(round(start + s * bar_w, 1), round(TOP + plot_h - h, 1), round(bar_w - 2, 1),
                                  round(h, 1), s, f"{label} {series[s]} {fmt(value)}"))
        chart.labels.append((round(LEFT + i * slot + slot / 2, 1), height - BOTTOM + 16, label))
    return chart
