"""The rows of a drift window: Kafka messages of its offset ranges → one DataFrame.

Messages are decoded as a replay decodes them (:func:`glasswatch.ingest.validate.decode`, no
clock-skew limit: the window is in the past); refused messages, ticks and labels are skipped.
A row is one ``prediction_id`` of the window's model (and version, when the window has one) with
event time in ``[start, end)``: its features (inline in the prediction event, or from a feature
event with the same id), the ``prediction`` and one ``proba:<class>`` column per probability.
Offsets outside the window's ranges are ignored, so passing more messages changes nothing.
A later event with the same ``prediction_id`` overwrites the fields it carries (offset order).

Examples
--------
>>> from datetime import datetime, timezone
>>> import orjson
>>> from glasswatch.monitor.replay import Message
>>> from glasswatch.schemas.coords import Coord, OffsetRange
>>> from glasswatch.drift.window import DriftWindow
>>> t = "2026-01-01T00:00:30Z"
>>> ev = lambda i, v: orjson.dumps({"type": "prediction", "model": "m", "model_version": v,
...     "prediction_id": f"p{i}", "event_time": t, "features": {"radius": i}, "prediction": 1})
>>> msgs = [Message(Coord("preds", 0, i), ev(i, "1" if i != 2 else "2")) for i in range(5)]
>>> w = DriftWindow(model="m", model_version="1", start=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                 end=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc),
...                 offsets=(OffsetRange(topic="preds", partition=0, first=1, last=3),))
>>> rows_of(msgs, w)["radius"].tolist()
[1, 3]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from glasswatch.drift.window import DriftWindow
from glasswatch.ingest.validate import Limits, decode
from glasswatch.monitor.replay import Message
from glasswatch.schemas.events import EPOCH, FeatureEvent, PredictionEvent

__all__ = ["PREDICTION", "PROBA_PREFIX", "rows_of"]

PREDICTION = "prediction"
"""Column of the model's prediction in a window's rows (and in a reference that has one)."""
PROBA_PREFIX = "proba:"
"""Prefix of the probability columns, ``proba:<class>``."""

_NO_SKEW = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)


def rows_of(messages: Iterable[Message], window: DriftWindow) -> pd.DataFrame:
    """The window's rows, in offset order (see the module docstring)."""
    ranges = {(o.topic, o.partition): (o.first, o.last) for o in window.offsets}
    rows: dict[str, dict[str, Any]] = {}
    predicted: set[str] = set()
    for m in messages:
        span = ranges.get((m.coord.topic, m.coord.partition))
        if span is None or not span[0] <= m.coord.offset <= span[1]:
            continue
        for ev in decode(m.value, now=EPOCH, limits=_NO_SKEW).events:
            if ev.model != window.model or not window.start <= ev.event_time < window.end:
                continue
            if isinstance(ev, PredictionEvent):
                if window.model_version is not None and ev.model_version != window.model_version:
                    continue
                row = rows.setdefault(ev.prediction_id, {})
                row.update(ev.features or {})
                row[PREDICTION] = ev.prediction
                for cls, p in (ev.probabilities or {}).items():
                    row[PROBA_PREFIX + cls] = p
                predicted.add(ev.prediction_id)
            elif isinstance(ev, FeatureEvent):
                rows.setdefault(ev.prediction_id, {}).update(ev.features)
    keep = [r for pid, r in rows.items() if window.model_version is None or pid in predicted]
    return pd.DataFrame.from_records(keep)
