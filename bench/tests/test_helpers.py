"""The benchmark's own arithmetic and report (no database: the benchmark itself needs one)."""

import pytest

from bench import report
from bench.run import percentile
from bench.seed import SCALES, Table, split


def test_split_deals_every_row_out():
    assert split(10, 3) == [4, 3, 3]
    assert sum(split(1_000_000, 20_000)) == 1_000_000


def test_percentile_interpolates():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0


def test_large_scale_is_the_issues_size():
    large = SCALES["large"]
    assert (large.practices, large.clinicians, large.clients, large.checkins) == (
        20, 500, 20_000, 1_000_000)
    assert large.caseload == 200


def test_copy_fills_defaults_and_refuses_unknown_not_null_columns():
    from feedback.models import CheckinEmail

    table = Table(None, CheckinEmail, ["id", "practice_id", "invitation_id", "kind",
                                       "not_before", "created_at"])
    filled = dict(zip(table.columns[6:], table.extra))
    assert filled["status"] == "pending" and filled["reason"] == "" and filled["attempts"] == 0
    with pytest.raises(RuntimeError, match="NOT NULL"):
        Table(None, CheckinEmail, ["id"])  # no practice, invitation, kind, not_before ...


def _scale(counts, ratio):
    return {
        "rows": {"clients": 10}, "seed_seconds": 1.0,
        "query_counts": {f"clinician {k}": {"queries": v} for k, v in counts.items()},
        "latency": {
            "trivial view (baseline)": {"p50_ms": 10, "p95_ms": 20, "rps": 1, "statuses": {}},
            "caseload": {"p50_ms": 10 * ratio, "p95_ms": 20 * ratio, "p50_ratio": ratio,
                         "p95_ratio": ratio, "rps": 1, "statuses": {"200": 1}, "target": 10.0,
                         "ok": ratio <= 10, "ok_statuses": True},
            "practice report": {"available": False},
        },
        "reports": {"available": False, "source": "not yet", "sql_seconds": 0.1},
        "dispatch": {"invitations": 5, "worker_concurrency": 2, "seconds": 1, "per_second": 5.0,
                     "raw_insert_select_seconds": 0.01, "ratio_to_raw": 100.0, "ok": False},
    }


def test_report_shows_unequal_query_counts_and_missed_targets():
    results = {
        "machine": {"cores": 2, "cpu": "x", "memory_gb": 24, "postgresql": "15", "python": "3.12",
                    "date": "today"},
        "settings": {"requests": 1, "concurrency": 1, "workers": 1},
        "scales": {"small": _scale({"home": 9, "clients": 7}, 3.0),
                   "large": _scale({"home": 9, "clients": 8}, 12.0)},
    }
    text = report.render(results)
    assert "1 of 2 pages equal" in text
    assert "| `clients` (clinician) | 7 | 8 | **no** |" in text
    assert "| caseload p50 / p95 vs trivial view | 12.0× / 12.0× | ≤ 10× | **no** |" in text
    assert "not available yet" in text
    assert "How to reproduce" in text
