"""Geometry of the wallboard's charts, drawn as inline SVG by the templates (no chart library)."""

from dataclasses import dataclass

from centralita.web.wallboard_data import DayCurves, Interval

WIDTH = 960
HEIGHT = 220
LEFT = 44
BOTTOM = 24
TOP = 10
PLOT_WIDTH = WIDTH - LEFT - 8
PLOT_HEIGHT = HEIGHT - BOTTOM - TOP


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    hour: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class DayChart:
    """Today's volume as bars and last week's as a line; service level as two lines and a
    target line. Coordinates are in the SVG's viewBox."""

    width: int
    height: int
    bars: list[Bar]
    last_week_volume: str
    volume_ticks: list[Tick]
    sl_today: list[str]
    sl_last_week: list[str]
    sl_target_y: float | None
    sl_ticks: list[Tick]
    hour_ticks: list[Tick]
    total_today: int
    total_last_week: int


def _slot(index: int, count: int) -> float:
    return LEFT + PLOT_WIDTH * index / count


def _y(fraction: float) -> float:
    return TOP + PLOT_HEIGHT * (1 - fraction)


def _segments(intervals: list[Interval]) -> list[str]:
    """Polyline point lists, broken where an interval has no service level to show."""
    count = len(intervals)
    step = PLOT_WIDTH / count
    segments: list[str] = []
    current: list[str] = []
    for index, interval in enumerate(intervals):
        if interval.service_level is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x = _slot(index, count) + step / 2
        current.append(f"{x:.1f},{_y(interval.service_level):.1f}")
    if current:
        segments.append(" ".join(current))
    # A single point draws nothing as a polyline: repeat it a hair to the right.
    return [
        s if " " in s else f"{s} {float(s.split(',')[0]) + 2:.1f},{s.split(',')[1]}"
        for s in segments
    ]


def day_chart(curves: DayCurves) -> DayChart:
    count = len(curves.today)
    step = PLOT_WIDTH / count
    peak = max([1, *(i.volume for i in curves.today), *(i.volume for i in curves.last_week)])
    bars = [
        Bar(
            x=_slot(index, count) + 1,
            y=_y(interval.volume / peak),
            width=max(1.0, step - 2),
            height=PLOT_HEIGHT * interval.volume / peak,
            value=interval.volume,
            hour=f"{index // 4:02d}:{index % 4 * 15:02d}",
        )
        for index, interval in enumerate(curves.today)
        if interval.volume
    ]
    last_week = " ".join(
        f"{_slot(index, count) + step / 2:.1f},{_y(interval.volume / peak):.1f}"
        for index, interval in enumerate(curves.last_week)
    )
    return DayChart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        last_week_volume=last_week,
        volume_ticks=[Tick(_y(n / peak), str(n)) for n in sorted({0, peak // 2, peak})],
        sl_today=_segments(curves.today),
        sl_last_week=_segments(curves.last_week),
        sl_target_y=_y(curves.target) if curves.target is not None else None,
        sl_ticks=[Tick(_y(f), f"{round(f * 100)}%") for f in (0, 0.5, 0.8, 1)],
        hour_ticks=[Tick(_slot(hour * 4, count), f"{hour:02d}") for hour in range(0, 24, 3)],
        total_today=sum(i.volume for i in curves.today),
        total_last_week=sum(i.volume for i in curves.last_week),
    )
