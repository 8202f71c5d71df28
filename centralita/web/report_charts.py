"""Bar charts as plain geometry, drawn as inline SVG by the templates: no script, nothing to load,
and the same picture in every browser and in a printed report."""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 180
AXIS = 24  # room under the bars for the labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str  # as shown, e.g. "82 %"; empty where there is no value


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    label_every: int  # label one bar in this many, so labels never overlap


def bar_chart(points: Sequence[tuple[str, float | None, str]], top: float | None = None) -> Chart:
    """Bars for ``(label, value, shown value)``; a None value draws no bar (no data)."""
    values = [value for _, value, _ in points if value is not None]
    ceiling = top if top is not None else max(values, default=0.0) or 1.0
    slot = WIDTH / max(1, len(points))
    plot = HEIGHT - AXIS
    bars = []
    for index, (label, value, shown) in enumerate(points):
        height = plot * min(value, ceiling) / ceiling if value else 0.0
        bars.append(
            Bar(
                x=index * slot + slot * 0.15,
                y=plot - height,
                width=slot * 0.7,
                height=height,
                label=label,
                value=shown,
            )
        )
    return Chart(WIDTH, HEIGHT, plot, bars, max(1, len(points) // 10))
