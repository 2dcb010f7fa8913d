"""A client's check-in history for the staff client page: one series per instrument, with the
points to chart, reliable-change markers (outcome measures, against the first counted score)
and rupture markers (alliance, the practice's current rupture rules), plus the check-ins
entered in error (kept and listed, never charted or counted).

Four queries, whatever the number of check-ins: responses, their versions with their items,
alliance core answers, the practice settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from care.models import Client
from feedback import scoring
from feedback.models import (
    Answer,
    CheckinResponse,
    Instrument,
    InstrumentItem,
    InstrumentVersion,
)
from feedback.services.alerts import (
    RuptureRules,
    alert_settings,
    core_item_values,
    rupture_hits,
)
from portal.tenancy.context import require_practice

IMPROVED, DETERIORATED, RUPTURE = "improved", "deteriorated", "rupture"

# Geometry of the inline SVG (viewBox units).
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 624, 16, 204


@dataclass
class Point:
    response: CheckinResponse
    score: float
    marker: str = ""  # IMPROVED / DETERIORATED / RUPTURE / ""
    change: float | None = None  # from the first counted score (outcome)
    notes: list[str] = field(default_factory=list)
    cx: float = 0
    cy: float = 0
    error_url: str = ""  # "entered in error?" for this check-in; the panel fills it in

    @property
    def at(self) -> datetime:
        return self.response.submitted_at

    @property
    def shape(self) -> str:
        """SVG points of the marker's polygon (triangle up/down, diamond), or "" for a dot."""
        x, y = self.cx, self.cy
        if self.marker == IMPROVED:
            return f"{x:.1f},{y - 7:.1f} {x + 7:.1f},{y + 5:.1f} {x - 7:.1f},{y + 5:.1f}"
        if self.marker == DETERIORATED:
            return f"{x:.1f},{y + 7:.1f} {x + 7:.1f},{y - 5:.1f} {x - 7:.1f},{y - 5:.1f}"
        if self.marker == RUPTURE:
            return f"{x:.1f},{y - 7:.1f} {x + 7:.1f},{y:.1f} {x:.1f},{y + 7:.1f} {x - 7:.1f},{y:.1f}"
        return ""


@dataclass
class Series:
    instrument: Instrument
    is_alliance: bool
    higher_is_better: bool
    y_min: float
    y_max: float
    score_label: str
    threshold_text: str = ""
    has_safety_item: bool = False
    cutoff: float | None = None  # alliance: the rupture cutoff line
    points: list[Point] = field(default_factory=list)
    errors: list[CheckinResponse] = field(default_factory=list)
    gridlines: list[dict] = field(default_factory=list)
    path: str = ""
    cutoff_y: float | None = None
    first: datetime | None = None
    last: datetime | None = None

    width, height, left, right, top, bottom = WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM

    @property
    def key(self) -> str:
        return f"i{self.instrument.pk}"

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def marked(self) -> list[Point]:
        return [p for p in self.points if p.marker]

    def count(self, marker: str) -> int:
        return sum(1 for p in self.points if p.marker == marker)

    @property
    def improved_count(self) -> int:
        return self.count(IMPROVED)

    @property
    def deteriorated_count(self) -> int:
        return self.count(DETERIORATED)

    @property
    def rupture_count(self) -> int:
        return self.count(RUPTURE)

    @property
    def rows(self) -> list[Point]:
        return list(reversed(self.points))

    @property
    def axis_y(self) -> float:
        return self.bottom + 22

    @property
    def spans_days(self) -> bool:
        return bool(self.first and self.last and self.first.date() != self.last.date())


def _y_range(version, n_scored: int) -> tuple[float, float, str]:
    if version.scoring_rule == scoring.INDEX:
        return 0.0, 10.0, "Index (0–10)"
    if version.scoring_rule == scoring.MEAN:
        return float(version.scale_min), float(version.scale_max), "Mean"
    return float(version.scale_min * n_scored), float(version.scale_max * n_scored), "Total"


def _nice_ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks, value = [], math.ceil(lo / step) * step
    while value <= hi + 1e-9:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _layout(series: Series) -> None:
    points = series.points
    lo, hi = series.y_min, series.y_max
    if points:
        lo, hi = min(lo, *(p.score for p in points)), max(hi, *(p.score for p in points))
    series.y_min, series.y_max = lo, hi
    span = (hi - lo) or 1

    def y_of(value: float) -> float:
        return BOTTOM - (value - lo) / span * (BOTTOM - TOP)

    series.gridlines = [
        {"value": f"{t:g}", "y": round(y_of(t), 1), "label_y": round(y_of(t) + 4, 1)}
        for t in _nice_ticks(lo, hi)
    ]
    if series.cutoff is not None and lo <= series.cutoff <= hi:
        series.cutoff_y = round(y_of(series.cutoff), 1)
    if not points:
        return
    series.first, series.last = points[0].at, points[-1].at
    t0 = series.first.timestamp()
    t_span = series.last.timestamp() - t0
    for i, p in enumerate(points):
        if t_span > 0:
            x = LEFT + (p.at.timestamp() - t0) / t_span * (RIGHT - LEFT)
        else:
            x = (LEFT + RIGHT) / 2 if len(points) == 1 else LEFT + i * (RIGHT - LEFT) / (len(points) - 1)
        p.cx, p.cy = round(x, 1), round(y_of(p.score), 1)
    series.path = " ".join(f"{p.cx},{p.cy}" for p in points)


def _threshold_text(version) -> str:
    if version.reliable_change_points:
        return f"a change of at least {version.reliable_change_points:g} points from the first score"
    if version.reliable_change_sd and version.reliable_change_reliability is not None:
        return "a Jacobson–Truax reliable change index of at least 1.96 from the first score"
    return ""


def client_history(client: Client) -> dict:
    responses = list(
        CheckinResponse.objects.filter(client=client)
        .select_related("entered_in_error_by__user")
        .order_by("submitted_at", "id")
    )
    if not responses:
        return {"series": [], "rules": None}
    # The versions' items (a few dozen rows) give the counts, the core questions and the
    # versions themselves: one instance per version, not a copy per response.
    version_ids = {r.instrument_version_id for r in responses}
    items = {
        item.pk: item
        for item in InstrumentItem.objects.filter(version_id__in=version_ids)
        .select_related("version__instrument")
        .order_by()
    }
    versions = {item.version_id: item.version for item in items.values()}
    if version_ids - versions.keys():  # a version without items: not expected, still shown
        versions.update(
            InstrumentVersion.objects.select_related("instrument").in_bulk(version_ids)
        )
    for r in responses:
        r.instrument_version = versions[r.instrument_version_id]
    counts: dict[int, dict] = {}
    for item in items.values():
        row = counts.setdefault(item.version_id, {"scored": 0, "safety": 0})
        row["scored"] += item.scored and item.response_kind == scoring.SCALE
        row["safety"] += item.flag == scoring.SAFETY
    alliance_ids = [
        r.pk
        for r in responses
        if r.instrument_version.instrument.kind == Instrument.Kind.ALLIANCE
        and r.index is not None
        and r.entered_in_error_at is None
    ]
    # (item, value) per response in question order; plain values, as there are hundreds.
    answers_by_response: dict[int, list[tuple[InstrumentItem, int | None]]] = {}
    if alliance_ids:
        core_ids = [pk for pk, item in items.items() if item.is_core]
        for response_id, item_id, value in Answer.objects.filter(
            response_id__in=alliance_ids, item_id__in=core_ids
        ).values_list("response_id", "item_id", "value").order_by():
            answers_by_response.setdefault(response_id, []).append((items[item_id], value))
        for answers in answers_by_response.values():
            answers.sort(key=lambda pair: pair[0].position)
    rules = RuptureRules.of(alert_settings(require_practice()))

    by_instrument: dict[int, list[CheckinResponse]] = {}
    for r in responses:
        by_instrument.setdefault(r.instrument_version.instrument_id, []).append(r)

    series_list = []
    for rows in by_instrument.values():
        latest_version = max((r.instrument_version for r in rows), key=lambda v: v.number)
        instrument = latest_version.instrument
        is_alliance = instrument.kind == Instrument.Kind.ALLIANCE
        n_scored = counts.get(latest_version.pk, {}).get("scored", 0)
        y_min, y_max, label = _y_range(latest_version, n_scored)
        series = Series(
            instrument=instrument,
            is_alliance=is_alliance,
            higher_is_better=latest_version.higher_is_better,
            y_min=y_min,
            y_max=y_max,
            score_label=label,
            has_safety_item=any(counts.get(r.instrument_version_id, {}).get("safety") for r in rows),
            cutoff=rules.index_below if is_alliance and latest_version.scoring_rule == scoring.INDEX else None,
            threshold_text="" if is_alliance else _threshold_text(latest_version),
        )
        prior: list[float] = []
        baseline: float | None = None
        for r in rows:
            if r.entered_in_error_at is not None:
                series.errors.append(r)
                continue
            value = r.score
            if value is None:
                continue
            point = Point(response=r, score=value)
            if is_alliance and r.index is not None:
                hits = rupture_hits(
                    rules,
                    index=r.index,
                    prior=prior,
                    core_items=core_item_values(r.instrument_version, answers_by_response.get(r.pk, [])),
                    rupture_reported=r.rupture_reported,
                )
                if hits:
                    point.marker = RUPTURE
                    point.notes = [h.text for h in hits]
                prior.append(r.index)
            elif not is_alliance:
                if baseline is None:
                    baseline = value
                else:
                    point.change = value - baseline
                    change = scoring.version_change(r.instrument_version, baseline, value)
                    if change is not None:
                        direction = change.direction(higher_is_better=r.instrument_version.higher_is_better)
                        if direction == scoring.IMPROVED:
                            point.marker = IMPROVED
                            point.notes = ["Reliably improved since the first score"]
                        elif direction == scoring.DETERIORATED:
                            point.marker = DETERIORATED
                            point.notes = ["Reliably worse since the first score"]
            series.points.append(point)
        _layout(series)
        series_list.append(series)
    # Alliance first, then outcome measures, by name.
    series_list.sort(key=lambda s: (not s.is_alliance, s.instrument.name))
    return {"series": series_list, "rules": rules}
