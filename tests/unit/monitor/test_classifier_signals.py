"""Classifier signals (issue 11): a class label as the prediction feeds ``prediction:category_mix``
(the argmax of ``probabilities`` when the label is missing), and ``probabilities`` add the
``confidence`` and ``entropy`` streams. A multi-class mix shift and a confidence drop alert, with
the default spec, after the change and never before it."""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from glasswatch.monitor.aggregates import MAX_CATEGORIES, OTHER, Pane, class_summary
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CLASSES = ("a", "b", "c")
PER_WINDOW = 200  # events per 60 s window
WINDOWS, CHANGE = 50, 35  # the change starts at window 35


def _events(
    mix_after: tuple[float, float, float] = (0.6, 0.3, 0.1),
    conf_after: float = 0.9,
    *,
    label: bool = True,
    probabilities: bool = True,
    seed: int = 0,
) -> list[Located]:
    """Three classes 0.6/0.3/0.1 with confidence ~0.9 (the rest split evenly) until window
    ``CHANGE``, then ``mix_after`` and ``conf_after``."""
    rng = random.Random(seed)
    out = []
    for i in range(WINDOWS * PER_WINDOW):
        after = i // PER_WINDOW >= CHANGE
        c = rng.choices(CLASSES, mix_after if after else (0.6, 0.3, 0.1))[0]
        top = min(0.99, max(0.4, rng.gauss(conf_after if after else 0.9, 0.05)))
        probs = {k: top if k == c else (1 - top) / 2 for k in CLASSES}
        ev = PredictionEvent(
            model="m", model_version="1", prediction_id=str(i),
            event_time=T0 + timedelta(seconds=i * 60 / PER_WINDOW),
            prediction=c if label else None, probabilities=probs if probabilities else None,
        )  # fmt: skip
        out.append(Located(ev, Coord("predictions", 0, i)))
    return out


def _fired(alerts: list[Alert]) -> dict[str, datetime]:
    """signal -> start of the window of its first firing alert."""
    out: dict[str, datetime] = {}
    for a in alerts:
        if a.status.value == "firing":
            out.setdefault(a.signal, datetime.fromisoformat(a.evidence["window_start"]))
    return out


CHANGE_AT = T0 + timedelta(minutes=CHANGE)


@pytest.mark.parametrize("label", [True, False], ids=["label", "argmax-of-probabilities"])
def test_a_multi_class_mix_shift_alerts_on_category_mix(label: bool) -> None:
    mon = ModelMonitor(MonitorSpec(model="m"))
    out = mon.update_many(_events((0.2, 0.3, 0.5), label=label))
    fired = _fired(out.alerts)
    assert "prediction:category_mix" in fired
    assert all(at >= CHANGE_AT for at in fired.values()), fired  # nothing before the change
    assert fired["prediction:category_mix"] <= CHANGE_AT + timedelta(minutes=2)
    s = out.windows[0].summaries["prediction"]
    assert s.categories == pytest.approx({"a": 0.6, "b": 0.3, "c": 0.1}, abs=0.07)
    assert s.mean is None and s.missing == 0  # a label is no number, and not missing


def test_an_unchanged_classifier_raises_nothing() -> None:
    out = ModelMonitor(MonitorSpec(model="m")).update_many(_events())
    assert out.alerts == []
    names = {s for w in out.windows for s in w.summaries}
    assert {"prediction", "confidence", "entropy"} <= names


def test_a_confidence_drop_alerts_on_confidence_mean() -> None:
    out = ModelMonitor(MonitorSpec(model="m")).update_many(_events(conf_after=0.7))
    fired = _fired(out.alerts)
    assert "confidence:mean" in fired and "entropy:mean" in fired
    assert "prediction:category_mix" not in fired  # the mix did not change
    assert all(at >= CHANGE_AT for at in fired.values()), fired
    assert fired["confidence:mean"] <= CHANGE_AT + timedelta(minutes=2)
    last = out.windows[-1].summaries
    assert last["confidence"].mean == pytest.approx(0.7, abs=0.02)
    assert last["confidence"].count == PER_WINDOW and last["confidence"].p05 is not None


def test_a_confidence_rise_alerts_too() -> None:
    """Not rate-like: the learned band is two-sided (an overconfident model is news as well)."""
    out = ModelMonitor(MonitorSpec(model="m")).update_many(_events(conf_after=0.97))
    assert "confidence:mean" in _fired(out.alerts)


def test_without_probabilities_the_streams_stay_absent() -> None:
    out = ModelMonitor(MonitorSpec(model="m")).update_many(_events(conf_after=0.5, probabilities=False))
    assert not {"confidence", "entropy"} & {s for w in out.windows for s in w.summaries}
    assert not [a for a in out.alerts if a.signal.startswith(("confidence:", "entropy:"))]


def test_watch_prediction_off_silences_the_probability_signals() -> None:
    spec = MonitorSpec(model="m", watch_prediction=False)
    out = ModelMonitor(spec).update_many(_events((0.2, 0.3, 0.5), conf_after=0.5))
    assert not [a for a in out.alerts if a.signal.startswith(("prediction:", "confidence:", "entropy:"))]


def test_spec_stats_choose_the_signals() -> None:
    spec = MonitorSpec(model="m", confidence_stats=("p50",), entropy_stats=())
    mon = ModelMonitor(spec)
    mon.update_many(_events()[: 5 * PER_WINDOW])
    names = set(mon._signals)
    assert "confidence:p50" in names and "confidence:mean" not in names
    assert not [n for n in names if n.startswith("entropy:")]
    assert MonitorSpec(model="m").confidence_stats == ("mean", "p05")
    assert MonitorSpec(model="m").entropy_stats == ("mean",)


# -- the per-event numbers -----------------------------------------------------------------


def test_class_summary_matches_numpy_and_breaks_ties_by_name() -> None:
    rng = np.random.default_rng(4)
    for _ in range(50):
        p = rng.dirichlet(np.ones(7)) * rng.uniform(0.2, 1.0)  # not normalised
        probs = {f"k{i}": float(v) for i, v in enumerate(p)}
        label, conf, ent = class_summary(probs)
        q = p / p.sum()
        assert label == f"k{int(np.argmax(p))}" and conf == float(p.max())
        assert ent == pytest.approx(float(-(q * np.log(q)).sum()), rel=1e-12)
    assert class_summary({"z": 0.4, "b": 0.4, "m": 0.2})[0] == "b"
    assert class_summary({"one": 1, "other": 0}) == ("one", 1.0, 0.0)  # integers, one-hot
    assert class_summary({"x": 0.0, "y": 0.0}) == ("x", 0.0, None)  # no entropy of nothing
    with pytest.raises(ValueError, match="no class"):
        class_summary({})
    uniform = class_summary({str(i): 1 / 256 for i in range(256)})[2]
    assert uniform == pytest.approx(math.log(256))


def test_256_hostile_class_names_stay_bounded_and_order_free() -> None:
    """Only numbers (and the label, under the category bound) are kept; the numbers do not depend
    on the order the producer listed the classes in."""
    rng = random.Random(2)
    names = [f"<script>{i}\u202e" + "x" * 100 for i in range(256)]
    a, b = Pane(start=0, seed=0), Pane(start=0, seed=0)
    for _ in range(300):
        p = [rng.random() for _ in names]
        probs = dict(zip(names, p, strict=True))
        shuffled = list(probs.items())
        rng.shuffle(shuffled)
        a.add_prediction(None, None, "1", probs)
        b.add_prediction(None, None, "1", dict(shuffled))
    assert a.pred is not None and b.pred is not None and a.conf is not None and a.ent is not None
    assert len(a.pred.categories) <= MAX_CATEGORIES + 1 and sum(a.pred.categories.values()) == 300
    assert a.pred.categories == b.pred.categories
    assert set(a.pred.categories) - set(names) <= {OTHER}
    for agg_a, agg_b in ((a.conf, b.conf), (a.ent, b.ent)):
        assert agg_b is not None
        pa, pb = agg_a.part(), agg_b.part()
        assert pa is not None and pb is not None
        assert (pa.n, pa.mean, pa.m2, pa.lo, pa.hi) == (pb.n, pb.mean, pb.m2, pb.lo, pb.hi)
        assert np.array_equal(pa.sample, pb.sample)
    assert len(pickle.dumps(a)) < 40_000  # bounded: no class names kept but the labels'


def test_mixed_number_and_label_predictions_do_not_break_numeric_stats() -> None:
    pane = Pane(start=0, seed=0)
    for pred in (1.0, "cat", 3, None, "dog", 2.0):
        pane.add_prediction(pred, None, "1")
    assert pane.pred is not None
    part = pane.pred.part()
    assert part is not None and part.n == 3 and part.mean == 2.0
    assert pane.pred.categories == {"cat": 1, "dog": 1}
    assert pane.conf is None and pane.ent is None


def test_a_label_wins_over_the_argmax() -> None:
    pane = Pane(start=0, seed=0)
    pane.add_prediction("b", None, "1", {"a": 0.9, "b": 0.1})
    assert pane.pred is not None and pane.pred.categories == {"b": 1}


def test_the_monitor_stays_deterministic_and_restores() -> None:
    data = _events((0.2, 0.3, 0.5), conf_after=0.7)[: 20 * PER_WINDOW]
    a, b = ModelMonitor(MonitorSpec(model="m")), ModelMonitor(MonitorSpec(model="m"))
    a.update_many(data[:1500])
    b.update_many(data[:1500])
    c = pickle.loads(pickle.dumps(a))
    outs = [m.update_many(data[1500:]) for m in (a, b, c)]
    assert a.state_digest() == b.state_digest() == c.state_digest()
    assert outs[0].windows == outs[1].windows == outs[2].windows
