"""Writes ``state_v0_prev_release.bin``: a partition state as the previous release stored it.

**Needs the code of commit ac2668e** (the last release before the signed state envelope, when the
state classes still lived in ``glasswatch.core``): the format is that release's
``glasswatch.streams.app.encode_state``, a bare zlib-compressed pickle. Run it against a checkout
of that commit with this project's virtualenv::

    git worktree add /tmp/gw-prev ac2668e
    PYTHONPATH=/tmp/gw-prev .venv/bin/python tests/unit/kafka/data/make_prev_state.py
    git worktree remove /tmp/gw-prev

It also writes ``state_v0_prev_release.json``, the figures of that state measured at generation
time (:func:`figures`); ``tests/unit/kafka/test_state_codec.py`` reads the state with today's
code and compares. The state holds two models, every monitor on (windows, static and dynamic
thresholds, ADWIN, Page-Hinkley and KSWIN, Half-Space Trees), rejects and a dead-letter rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["BIN", "FIGURES", "figures", "main"]

HERE = Path(__file__).resolve().parent
BIN = HERE / "state_v0_prev_release.bin"
FIGURES = HERE / "state_v0_prev_release.json"


def figures(state: Any) -> dict[str, Any]:
    """What a partition state counted, through attributes both releases share."""
    models = {}
    for name, ms in sorted(state.models.items()):
        feats = {}
        for fname, fs in sorted(ms.features.items()):
            feats[fname] = {
                "count": fs.count,
                "missing": fs.missing,
                "numeric": fs.numeric_count,
                "mean": fs.mean,
                "variance": fs.variance,
                "min": fs.min,
                "max": fs.max,
                "quantiles": fs.quantile_values(),
                "categories": dict(sorted(fs.categories.items())),
            }
        models[name] = {
            "events": dict(sorted(ms.events.items())),
            "versions": dict(ms.versions),
            "features": feats,
        }
    return {
        "topic": state.topic,
        "partition": state.partition,
        "last_offset": state.last_offset,
        "accepted": state.accepted,
        "rejects": dict(sorted(state.rejects.items())),
        "max_event_time": state.max_event_time.isoformat() if state.max_event_time else None,
        "monitors": sorted(state.monitors),
        "models": models,
    }


def main() -> None:
    # Imports of the previous release (glasswatch.core / glasswatch.streams exist only there).
    from glasswatch.core.partition import PartitionState
    from glasswatch.core.simulate import simulate
    from glasswatch.core.specs import DetectorSpec, MonitorSpec, SignalSpec, StaticBounds
    from glasswatch.streams.app import encode_state

    from glasswatch.schemas.events import FeatureEvent, LabelEvent

    kswin = SignalSpec(detectors=(DetectorSpec(kind="adwin"), DetectorSpec(kind="kswin")))

    def spec(model: str) -> MonitorSpec:
        return MonitorSpec(
            model=model,
            window={"size_seconds": 2.0},
            categorical=("segment",),
            features=("x0", "segment"),
            default=SignalSpec(static=StaticBounds(upper=1e6)),  # dynamic, ADWIN, Page-Hinkley
            signals={"feature:x0:mean": kswin},
            anomaly={"enabled": True, "warmup_events": 50, "n_trees": 3, "height": 4},
        )

    st = PartitionState(topic="glasswatch-predictions", partition=1)
    recs = simulate(900, n_features=2, seed=11, change="mean_shift", change_at=600)
    recs += simulate(200, n_features=2, seed=12, model="n", start=recs[-1].event.event_time)
    offset = 0
    for i in range(0, len(recs), 150):
        for rec in recs[i : i + 150]:
            reasons = ["invalid"] if offset % 97 == 0 else []
            st.apply(offset, [rec.event], reasons)
            offset += 1
        st.run_monitors(spec)
        st.take_alerts()
    last = recs[-1].event.event_time
    st.apply(offset, [LabelEvent(model="m", prediction_id="p1", event_time=last, label=1)])
    st.apply(offset + 1, [FeatureEvent(model="n", prediction_id="p2", event_time=last, features={"x9": 4.5})])
    st.apply(offset + 2, [], ["schema"])
    st.run_monitors(spec)
    st.take_alerts()
    BIN.write_bytes(encode_state(st))
    FIGURES.write_text(json.dumps(figures(st), indent=1, sort_keys=True) + "\n")
    print(f"{BIN.name}: {BIN.stat().st_size} bytes, {st.accepted} events, last offset {st.last_offset}")


if __name__ == "__main__":
    main()
