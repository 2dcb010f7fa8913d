"""Geometry for the server-rendered SVG charts of the caseload and the trend reports.

The templates draw what these functions compute (templates/feedback/charts/), each chart with a
title, a description and a table of the same figures, so nothing depends on seeing it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

from feedback.stats import Interval


@functools.cache
def _sparkline_xs(n: int, inner: int, pad: int) -> tuple[float, ...]:
    if n == 1:
        return (round(pad + inner / 2, 1),)
    return tuple(round(pad + i * inner / (n - 1), 1) for i in range(n))


# The caseload draws one sparkline per client from a few hundred distinct values (indexes of
# ten or so answers): each value's height, point and text are worked out once.
@functools.lru_cache(maxsize=4096)
def _sparkline_y(value: float, low: float, high: float, inner: int, pad: int) -> float:
    return round(pad + (high - value) / (high - low) * inner, 1)


@functools.lru_cache(maxsize=4096)
def _sparkline_point(x: float, value: float, low: float, high: float, inner: int, pad: int) -> str:
    return f"{x},{_sparkline_y(value, low, high, inner, pad)}"


@functools.lru_cache(maxsize=4096)
def _one_decimal(value: float) -> str:
    return f"{value:.1f}"


@dataclass
class Sparkline:
    values: list[float]
    width: int = 96
    height: int = 28
    low: float = 0.0
    high: float = 10.0
    points: str = ""
    last_x: float = 0.0
    last_y: float = 0.0

    def __post_init__(self):
        pad = 3
        xs = _sparkline_xs(len(self.values), self.width - 2 * pad, pad)
        low, high, inner = self.low, self.high, self.height - 2 * pad
        self.points = " ".join(
            [_sparkline_point(x, value, low, high, inner, pad) for x, value in zip(xs, self.values)]
        )
        if self.values:
            self.last_x = xs[-1]
            self.last_y = _sparkline_y(self.values[-1], low, high, inner, pad)

    @property
    def text(self) -> str:
        return ", ".join([_one_decimal(v) for v in self.values])


@dataclass
class BandPoint:
    start: date
    interval: Interval | None  # None: too few check-ins in this period to show a mean
    n: int
    x: float = 0.0
    y: float = 0.0
    y_low: float = 0.0
    y_high: float = 0.0


@dataclass
class BandChart:
    """A mean per period with its 95 % interval as a shaded band, on a 0–10 scale."""

    points: list[BandPoint]
    cutoff: float | None = None
    low: float = 0.0
    high: float = 10.0
    width: int = 640
    height: int = 220
    left: int = 40
    right: int = 624
    top: int = 12
    bottom: int = 188
    line: list[str] = field(default_factory=list)  # polylines, broken where a period is hidden
    band: str = ""
    cutoff_y: float | None = None
    ticks: list[tuple[float, float]] = field(default_factory=list)

    def y_of(self, value: float) -> float:
        value = min(max(value, self.low), self.high)
        return round(self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top), 1)

    def __post_init__(self):
        n = len(self.points)
        for i, p in enumerate(self.points):
            p.x = round(self.left + (i * (self.right - self.left) / (n - 1) if n > 1 else (self.right - self.left) / 2), 1)
            if p.interval is not None:
                p.y = self.y_of(p.interval.estimate)
                p.y_low, p.y_high = self.y_of(p.interval.low), self.y_of(p.interval.high)
        segment: list[str] = []
        for p in self.points:
            if p.interval is None:
                if segment:
                    self.line.append(" ".join(segment))
                segment = []
                continue
            segment.append(f"{p.x},{p.y}")
        if segment:
            self.line.append(" ".join(segment))
        shown = [p for p in self.points if p.interval is not None]
        if len(shown) > 1:
            upper = [f"{p.x},{p.y_high}" for p in shown]
            lower = [f"{p.x},{p.y_low}" for p in reversed(shown)]
            self.band = " ".join(upper + lower)
        if self.cutoff is not None:
            self.cutoff_y = self.y_of(self.cutoff)
        self.ticks = [(v, self.y_of(v)) for v in (0, 2, 4, 6, 8, 10)]

    @property
    def first(self) -> date | None:
        return self.points[0].start if self.points else None

    @property
    def last(self) -> date | None:
        return self.points[-1].start if self.points else None

    @property
    def shown(self) -> int:
        return sum(p.interval is not None for p in self.points)
