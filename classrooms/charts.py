"""Server-side SVG geometry for the attendance chart: a stacked area per place, no JavaScript needed.

The template draws what this computes; the numbers stay in selectors.attendance.attendance_timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from classrooms.selectors.attendance import REMOTE_PLACE, AttendanceTimeline

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34
ROOM_COLOURS = ("#0b6e6e", "#6d28d9", "#b45309", "#1d4ed8", "#be185d", "#15803d")
REMOTE_COLOUR = "#c2410c"


@dataclass(frozen=True)
class Area:
    label: str
    colour: str
    points: str  # the SVG polygon's points


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class StackedAreaChart:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    areas: tuple[Area, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    total_line: str  # the SVG polyline's points, along the top of the stack


def _nice_step(maximum: int, *, ticks: int = 5) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if maximum / step <= ticks:
            return step
    return max(1, maximum // ticks)


def _minute_step(span_minutes: float, *, ticks: int = 8) -> int:
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240):
        if span_minutes / step <= ticks:
            return step
    return 360


def stacked_area_chart(timeline: AttendanceTimeline, *, zone: tzinfo) -> StackedAreaChart | None:
    """The chart's shapes, or None when there is nothing to draw (the session has not started)."""
    samples = len(timeline.times)
    if samples == 0:
        return None
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = max([*timeline.totals, 1])
    y_step = _nice_step(top_value)
    y_max = -(-top_value // y_step) * y_step

    def x(index: int) -> float:
        return LEFT + (plot_width * index / (samples - 1) if samples > 1 else plot_width / 2)

    def y(value: float) -> float:
        return TOP + plot_height * (1 - value / y_max)

    def line(values: list[int]) -> list[str]:
        return [f"{x(k):.1f},{y(value):.1f}" for k, value in enumerate(values)]

    areas = []
    baseline = [0] * samples
    room_colours = iter(ROOM_COLOURS * (1 + len(timeline.series) // len(ROOM_COLOURS)))
    for series in timeline.series:
        upper = [base + count for base, count in zip(baseline, series.counts, strict=True)]
        if samples == 1:  # one instant: a thin bar
            points = [f"{x(0) - 3:.1f},{y(upper[0]):.1f}", f"{x(0) + 3:.1f},{y(upper[0]):.1f}"]
            points += [f"{x(0) + 3:.1f},{y(baseline[0]):.1f}", f"{x(0) - 3:.1f},{y(baseline[0]):.1f}"]
        else:
            points = line(upper) + list(reversed(line(baseline)))
        colour = REMOTE_COLOUR if series.key == REMOTE_PLACE else next(room_colours)
        areas.append(Area(label=series.label, colour=colour, points=" ".join(points)))
        baseline = upper

    start = timeline.times[0]
    span = (timeline.times[-1] - start).total_seconds() / 60
    minute_step = _minute_step(span)
    step_minutes = (timeline.times[1] - start).total_seconds() / 60 if samples > 1 else 1
    x_ticks = []
    for k, moment in enumerate(timeline.times):
        elapsed = round(k * step_minutes)
        if elapsed % minute_step == 0:
            x_ticks.append(Tick(position=x(k), label=moment.astimezone(zone).strftime("%H:%M")))
    y_ticks = tuple(Tick(position=y(value), label=str(value)) for value in range(0, y_max + 1, y_step))
    return StackedAreaChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        areas=tuple(areas),
        x_ticks=tuple(x_ticks),
        y_ticks=y_ticks,
        total_line=" ".join(line(list(timeline.totals))),
    )


# Line charts of link quality (round trip, loss, jitter, bitrate over time): one figure per chart. --------------

LINE_WIDTH, LINE_HEIGHT = 360, 150
LINE_LEFT, LINE_RIGHT, LINE_TOP, LINE_BOTTOM = 44, 10, 10, 26


@dataclass(frozen=True)
class LineSeries:
    label: str
    colour: str
    points: str  # the SVG polyline's points
    count: int
    latest: float | None


@dataclass(frozen=True)
class LineChart:
    title: str
    unit: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: tuple[LineSeries, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    summary: str  # for screen readers: the range and the latest value
    threshold: Tick | None = None  # the alert threshold's height (loss), drawn as a dashed line

    @property
    def points(self) -> int:
        return sum(line.count for line in self.series)


def _nice_ceiling(value: float) -> float:
    for top in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if value <= top:
            return float(top)
    return float(-(-value // 10000) * 10000)


def line_chart(
    *,
    title: str,
    unit: str,
    lines: list[tuple[str, list[tuple[datetime, float]]]],
    start: datetime,
    end: datetime,
    zone: tzinfo,
    threshold: float | None = None,
) -> LineChart:
    """One figure over [start, end]: a polyline per line (label, [(time, value)]), with time and value ticks, and
    the alert threshold (if given) as a line, always in view."""
    plot_width, plot_height = LINE_WIDTH - LINE_LEFT - LINE_RIGHT, LINE_HEIGHT - LINE_TOP - LINE_BOTTOM
    values = [value for _label, points in lines for _at, value in points]
    y_max = _nice_ceiling(max([*values, 1e-9, threshold * 1.2 if threshold else 0.0]))
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return LINE_LEFT + plot_width * min(1.0, max(0.0, (at - start).total_seconds() / span))

    def y(value: float) -> float:
        return LINE_TOP + plot_height * (1 - value / y_max)

    colours = iter(ROOM_COLOURS * (1 + len(lines) // len(ROOM_COLOURS)))
    series = tuple(
        LineSeries(
            label=label,
            colour=next(colours),
            points=" ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in points),
            count=len(points),
            latest=points[-1][1] if points else None,
        )
        for label, points in lines
    )
    minute_step = _minute_step(span / 60, ticks=4)
    x_ticks = []
    tick = start.astimezone(zone).replace(second=0, microsecond=0)
    while tick <= end:
        if tick >= start and (tick.hour * 60 + tick.minute) % minute_step == 0:
            x_ticks.append(Tick(position=round(x(tick), 1), label=tick.strftime("%H:%M")))
        tick += timedelta(minutes=1)
    y_ticks = tuple(Tick(position=round(y(y_max * k / 2), 1), label=f"{y_max * k / 2:g}") for k in range(3))
    if values:
        summary = f"{title}: {min(values):.1f}–{max(values):.1f} {unit}"
        latest = [line.latest for line in series if line.latest is not None]
        if latest:
            summary += f"; {latest[-1]:.1f} {unit}"
    else:
        summary = f"{title}: –"
    return LineChart(
        title=title,
        unit=unit,
        width=LINE_WIDTH,
        height=LINE_HEIGHT,
        left=LINE_LEFT,
        right=LINE_WIDTH - LINE_RIGHT,
        top=LINE_TOP,
        bottom=LINE_HEIGHT - LINE_BOTTOM,
        series=series,
        x_ticks=tuple(x_ticks),
        y_ticks=y_ticks,
        summary=summary,
        threshold=Tick(position=round(y(threshold), 1), label=f"{threshold:g}") if threshold else None,
    )
