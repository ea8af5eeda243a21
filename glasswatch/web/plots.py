"""Plotly figures of a signal's windows, its bands and its alerts, as plain JSON-able dicts.

A page passes a figure to its template, which writes it with ``|tojson`` into a
``<script type="application/json">`` block; ``/static/dashboard.js`` hands it to Plotly. No
JavaScript is ever built from strings, and no text a producer wrote goes into a figure (Plotly
renders a subset of HTML in titles, trace names and hover text): names and summaries are shown by
the page around the plot, escaped by Jinja.

The values of a signal are read off the window summaries as the monitor reads them
(:func:`~glasswatch.monitor.signal_state.signal_values` with the model's spec). The bands:

* ``static`` — the spec's fixed bounds;
* ``learned`` — the spec's learned band (:class:`~glasswatch.monitor.thresholds.DynamicThreshold`)
  replayed over the windows shown. The live monitor has learned from every window since it
  started, so over the first ``warmup`` windows of the plot the two can differ; the band the
  monitor actually used when it alerted is in each alert's evidence (the marker's hover);
* a ``reference`` band (from the drift reference) and an ``accepted`` band (a baseline accepted
  after a change, issue 11) would be two more traces built here, from the model's reference
  profile and the accepted-baseline record, once those exist.

Detector firings and alerts are markers, from the alerts topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.signal_state import SignalState, signal_values
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["Figure", "SignalSeries", "signal_figure", "signal_series", "stream_of"]

Figure = dict[str, Any]
"""``{"data": [...traces], "layout": {...}}`` as ``Plotly.newPlot`` takes them."""

_MAX_SIGNALS = 60


class SignalSeries:
    """One signal's values and replayed bands over a sequence of windows."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.x: list[str] = []
        self.y: list[float | None] = []
        self.learned: list[tuple[float | None, float | None]] = []
        self.static: tuple[float | None, float | None] | None = None


def stream_of(signal: str) -> str:
    """The stream a signal is read from (``feature:a:b:mean`` → ``feature:a:b``).

    >>> stream_of("feature:a:b:mean"), stream_of("events:rate"), stream_of("anomaly:rate")
    ('feature:a:b', 'events', 'anomaly')
    """
    return signal.rsplit(":", 1)[0]


def signal_series(
    spec: MonitorSpec, streams: Iterable[tuple[str, Sequence[WindowSummary]]]
) -> list[SignalSeries]:
    """Every signal ``spec`` watches in these streams' windows (at most 60, sorted by name)."""
    out: dict[str, SignalSeries] = {}
    states: dict[str, SignalState] = {}
    for stream, windows in streams:
        mixes: dict[str, CategoryMix] = {}
        for w in windows:
            for name, value in signal_values(spec, mixes, stream, w):
                series = out.get(name)
                if series is None:
                    sig = spec.signal(name)
                    if len(out) >= _MAX_SIGNALS or not sig.enabled:
                        continue
                    series = out[name] = SignalSeries(name)
                    states[name] = SignalState.of(sig.model_copy(update={"detectors": ()}), name, spec.seed)
                    if sig.static is not None:
                        series.static = (sig.static.lower, sig.static.upper)
                state = states[name].update(value, None if name == "events:rate" else w.count)
                mix = mixes.get(name) if name.endswith(":category_mix") and w.categories else None
                if mix is not None and (
                    not mix.n or not any(d.active or d.breaching for _, d in state.decisions)
                ):
                    mix.update(w.categories)  # as the monitor learns a mix
                series.x.append(w.end.isoformat())
                series.y.append(value)
                dyn = state.dynamic
                series.learned.append(dyn.decision.band if dyn is not None else (None, None))
    return [out[k] for k in sorted(out)]


def _finite(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _markers(alerts: Iterable[Alert], signal: str) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    styles = {
        "firing": ("alert firing", "#b00", "triangle-up"),
        "resolved": ("alert resolved", "#070", "circle-open"),
        "detector": ("detector fired", "#a0a", "diamond"),
    }
    for a in alerts:
        if a.signal != signal:
            continue
        ev = a.evidence
        x = ev.get("window_end") if isinstance(ev.get("window_end"), str) else None
        x = x or (a.ends_at or a.starts_at).isoformat()
        firing = a.status is AlertStatus.FIRING
        key = "resolved" if not firing else ("detector" if "detector" in ev else "firing")
        name, color, symbol = styles[key]
        g = groups.setdefault(key, {
            "type": "scatter", "mode": "markers", "name": name, "x": [], "y": [], "customdata": [],
            "marker": {"color": color, "symbol": symbol, "size": 12},
            "hovertemplate": f"{name}<br>%{{customdata}}<extra></extra>",
        })  # fmt: skip
        g["x"].append(x)
        g["y"].append(_finite(ev.get("value")))
        band = ev.get("band", ev.get("threshold"))
        lo, hi = band if isinstance(band, list) and len(band) == 2 else [None, None]
        g["customdata"].append(f"{a.severity.value}, band [{_fmt(_finite(lo))}, {_fmt(_finite(hi))}]")
    return list(groups.values())


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def signal_figure(series: SignalSeries, alerts: Iterable[Alert] = ()) -> Figure:
    """The figure of one signal: values, learned band (shaded), static bounds, alert markers."""
    data: list[dict[str, Any]] = []
    if any(lo is not None or hi is not None for lo, hi in series.learned):
        lows = [lo for lo, _ in series.learned]
        highs = [hi for _, hi in series.learned]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "learned band (low)",
                "x": series.x,
                "y": lows,
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "learned band",
                "x": series.x,
                "y": highs,
                "fill": "tonexty",
                "fillcolor": "rgba(0,110,200,0.15)",
                "line": {"width": 0},
            }
        )
    if series.static is not None:
        for bound, label in zip(series.static, ("static lower", "static upper"), strict=True):
            if bound is not None:
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": label,
                        "x": series.x,
                        "y": [bound] * len(series.x),
                        "line": {"dash": "dash", "color": "#b60"},
                    }
                )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "value",
            "x": series.x,
            "y": series.y,
            "line": {"color": "#036"},
            "marker": {"size": 4},
        }
    )
    data.extend(_markers(alerts, series.name))
    layout = {
        "height": 260,
        "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
        "xaxis": {"type": "date"},
        "legend": {"orientation": "h"},
    }
    return {"data": data, "layout": layout}
