"""Signals built from real column names (issue 10 item 6): ``feature:<name>:<stat>`` where the name
may hold spaces and ``:`` itself (``mean radius``, ``a:b`` next to ``a``), and nothing that reads a
signal back splits it ambiguously."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from glasswatch.alerting.severity_rules import feature_of
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import MonitorSpec, SignalSpec, StaticBounds
from glasswatch.monitor.windows import Located
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUIET = SignalSpec(dynamic=None, detectors=())


def _events(n: int) -> list[Located]:
    """``a:b`` jumps from 1 to 9 at event 20; ``a`` and ``mean radius`` stay where they are."""
    return [
        Located(
            PredictionEvent(model="bc", model_version="1", prediction_id=str(i),
                            event_time=T0 + timedelta(seconds=i),
                            features={"mean radius": 14.0 + (i % 3), "a:b": 1.0 if i < 20 else 9.0, "a": 2.0},
                            prediction=0.5),
            Coord("predictions", 0, i),
        )
        for i in range(n)
    ]


def test_a_feature_named_a_colon_b_alerts_as_itself() -> None:
    def upper(x: float) -> SignalSpec:
        return SignalSpec(static=StaticBounds(upper=x), dynamic=None, detectors=())

    spec = MonitorSpec(
        model="bc", window={"size_seconds": 10}, anomaly={"enabled": False}, default=QUIET,
        signals={"feature:a:b:mean": upper(5.0), "feature:a:mean": upper(5.0),
                 "feature:mean radius:mean": upper(20.0)},
    )
    out = ModelMonitor(spec).update_many(_events(45))
    streams = {s for w in out.windows for s in w.summaries}
    assert {"feature:mean radius", "feature:a:b", "feature:a"} <= streams
    first = out.windows[0]
    assert first.summaries["feature:mean radius"].mean == pytest.approx(14.9)  # 14, 15, 16, ..., 14
    assert first.summaries["feature:a:b"].mean == 1.0 and first.summaries["feature:a"].mean == 2.0
    fired = [(a.signal, a.evidence["feature"], feature_of(a)) for a in out.alerts]
    assert fired == [("feature:a:b:mean", "a:b", "a:b")]  # not feature "a", not a stat "b:mean"
