"""Server-side SVG geometry for the attendance chart: a stacked area per place, no JavaScript needed.

The template draws what this computes; the numbers stay in selectors.attendance.attendance_timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

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
