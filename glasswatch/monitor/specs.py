"""Monitor specs: what to watch for one model and how to decide, as frozen models loaded from YAML.

A spec names the watched streams (features, prediction, latency, event rate, anomaly rate), the
statistics read off each closed window (the *signals*, named ``<stream>:<stat>`` such as
``feature:age:mean``, ``prediction:category_mix``, ``events:rate``, ``events:gap``,
``anomaly:rate``; from class probabilities ``confidence:mean`` and ``entropy:mean``) and, per
signal, a static band, a learned (dynamic) band and drift detectors.
``default`` applies to every signal; ``signals`` overrides it with ``fnmatch`` patterns (the last
matching pattern wins). ``MonitorSpec(model="m")`` alone works: every feature seen, the prediction,
latency, event rate and anomaly rate, each with a dynamic band plus ADWIN and Page-Hinkley.

Errors raise :class:`glasswatch.errors.ConfigError` naming the file, line and field.

Examples
--------
>>> spec = load_spec_text('''
... model: churn
... window: {size_seconds: 60, allowed_lateness_seconds: 5}
... signals:
...   "feature:age:mean": {static: {upper: 60}}
... ''')
>>> spec.window.size_seconds, spec.signal("feature:age:mean").static.upper
(60.0, 60.0)
>>> [d.kind for d in spec.signal("events:rate").detectors]
['adwin', 'page_hinkley']
>>> load_spec_text("model: churn\\nwindow: {size_seconds: -1}\\n", source="m.yaml")
Traceback (most recent call last):
...
glasswatch.errors.ConfigError: m.yaml:2: window.size_seconds: Input should be greater than 0
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from glasswatch.errors import ConfigError
from glasswatch.monitor.detectors import build_river_detector
from glasswatch.schemas.text import decode_utf8

__all__ = [
    "AnomalySpec",
    "BaselineSpec",
    "DetectorSpec",
    "DynamicParams",
    "MonitorSpec",
    "SignalSpec",
    "Stat",
    "StaticBounds",
    "WindowSpec",
    "load_spec_text",
    "load_specs",
]

Stat = Literal["mean", "std", "min", "max", "p05", "p50", "p95", "missing_rate", "category_mix"]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StaticBounds(_Spec):
    """Fixed band; a window value outside ``[lower, upper]`` breaches."""

    lower: float | None = None
    upper: float | None = None
    hysteresis: int = Field(default=1, ge=1)
    resolve_after: int = Field(default=1, ge=1)


class DynamicParams(_Spec):
    """Learned band ``EWMA mean ± k·EW std`` (see :class:`glasswatch.monitor.thresholds.DynamicThreshold`)."""

    warmup: int = Field(default=20, ge=2)
    k: float = Field(default=5.0, gt=0)
    alpha: float = Field(default=0.05, gt=0, le=1)
    hysteresis: int = Field(default=2, ge=1)
    resolve_after: int = Field(default=3, ge=1)
    min_std: float | None = Field(default=None, ge=0)
    """Floor of the band's std (absolute); default 0.005 for rate-like signals, else 0."""
    min_rel: float | None = Field(default=None, ge=0)
    """Floor of the band's std relative to its level; default 0.02 for ``events:*``, else 1e-4."""
    side: Literal["both", "upper", "lower"] | None = None


class DetectorSpec(_Spec):
    """A River drift detector over one signal's per-window values (standardised after warm-up)."""

    kind: Literal["adwin", "page_hinkley", "kswin"]
    params: dict[str, float | int | str] = Field(default_factory=dict)
    warmup: int = Field(default=20, ge=2)
    # long enough for the slower detectors (ADWIN ~9 windows) to join the same open alert
    resolve_after: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _river_accepts_params(self) -> DetectorSpec:
        try:
            build_river_detector(self.kind, dict(self.params), 0)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid {self.kind} params {self.params}: {exc}") from None
        return self


class SignalSpec(_Spec):
    enabled: bool = True
    severity: Literal["info", "warning", "critical"] = "warning"
    static: StaticBounds | None = None
    dynamic: DynamicParams | None = DynamicParams()
    detectors: tuple[DetectorSpec, ...] = (
        DetectorSpec(kind="adwin"),
        DetectorSpec(kind="page_hinkley"),
    )


class WindowSpec(_Spec):
    size_seconds: float = Field(default=60.0, gt=0)
    hop_seconds: float | None = Field(default=None, gt=0)
    allowed_lateness_seconds: float = Field(default=0.0, ge=0)
    max_empty_windows: int = Field(default=1000, ge=0, description="cap on empty windows closed at once")

    @model_validator(mode="after")
    def _hop_divides_size(self) -> WindowSpec:
        if self.hop_seconds is not None:
            ratio = self.size_seconds / self.hop_seconds
            if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError("hop_seconds must divide size_seconds")
        return self


class AnomalySpec(_Spec):
    """Half-space trees over scaled numeric features; flags via a quantile filter."""

    enabled: bool = True
    features: tuple[str, ...] | None = None
    warmup_events: int = Field(default=500, ge=10)
    q: float = Field(default=0.99, gt=0, lt=1)
    n_trees: int = Field(default=10, ge=1)
    height: int = Field(default=8, ge=1)
    window_size: int = Field(default=250, ge=10)
    stride: int = Field(default=4, ge=1, description="score every stride-th event")


class BaselineSpec(_Spec):
    """Where a model version's reference baseline comes from (see :mod:`glasswatch.monitor.baselines`).

    ``source``: ``auto`` takes ``reference`` when given, else the version's reference in MLflow
    when the worker has a registry, else none (learned bands); ``file`` / ``mlflow`` only that
    one; ``none`` always learns. ``reference`` is a CSV or parquet file of feature columns (and
    optionally ``prediction``) used for every version of the model; a relative path is relative
    to the spec file (:func:`load_specs` makes it absolute; :func:`load_spec_text`: to the
    working directory). ``window_events`` rows per bootstrap window, ``bootstrap_windows`` of
    them; ``expected_rate`` (events/s) arms ``events:rate``/``events:gap`` too. Part of
    ``config_hash``: it changes decisions."""

    source: Literal["auto", "mlflow", "file", "none"] = "auto"
    reference: str | None = Field(default=None, min_length=1)
    window_events: int = Field(default=1000, ge=10, le=100_000)
    bootstrap_windows: int = Field(default=200, ge=10, le=10_000)
    expected_rate: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _file_needs_reference(self) -> BaselineSpec:
        if self.source == "file" and self.reference is None:
            raise ValueError("source 'file' needs a reference file")
        if self.window_events * self.bootstrap_windows > 5_000_000:
            raise ValueError("window_events * bootstrap_windows must be <= 5,000,000 (bootstrap memory)")
        return self


class MonitorSpec(_Spec):
    model: str = Field(min_length=1)
    window: WindowSpec = WindowSpec()
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    feature_stats: tuple[Stat, ...] = ("mean", "std", "missing_rate", "category_mix")
    prediction_stats: tuple[Stat, ...] = ("mean", "std", "category_mix")
    latency_stats: tuple[Stat, ...] = ("mean", "p95")
    confidence_stats: tuple[Stat, ...] = ("mean", "p05")
    """Stats of the ``confidence`` stream (each event's max class probability); needs
    ``probabilities`` in the events and ``watch_prediction``."""
    entropy_stats: tuple[Stat, ...] = ("mean",)
    """Stats of the ``entropy`` stream (each event's entropy of its normalised probabilities, nats)."""
    event_stats: tuple[Literal["rate", "gap"], ...] = ("rate", "gap")
    watch_prediction: bool = True
    watch_latency: bool = True
    default: SignalSpec = SignalSpec()
    signals: dict[str, SignalSpec] = Field(default_factory=dict)
    anomaly: AnomalySpec = AnomalySpec()
    baseline: BaselineSpec = BaselineSpec()
    seed: int = 0
    drift: dict[str, Any] | None = Field(default=None, exclude=True)
    """Batch drift settings, validated by ``glasswatch.drift.spec.drift_spec_of`` (drift sits
    above monitor, so the typed spec cannot live here); excluded from ``config_hash``."""

    def signal(self, name: str) -> SignalSpec:
        """The spec of one signal: the last ``signals`` pattern matching ``name``, else ``default``."""
        found = self.default
        for pattern, spec in self.signals.items():
            if fnmatch.fnmatchcase(name, pattern):
                found = spec
        return found

    def watches(self, feature: str) -> bool:
        return self.features is None or feature in self.features

    def config_hash(self) -> str:
        """Stable hash of the spec's content (goes into every alert's lineage)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


# -- YAML loading with line numbers ----------------------------------------------------------

_YamlPath = tuple[str | int, ...]


def _marks(node: yaml.Node, path: _YamlPath, out: dict[_YamlPath, int]) -> None:
    """Record the 1-based line of every mapping key and sequence item, keyed by its path."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark.line)
            out[(*path, name)] = key.start_mark.line + 1
            _marks(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _marks(item, (*path, i), out)


def _line_of(loc: tuple[str | int, ...], marks: dict[_YamlPath, int]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return 1


def _validate(data: Any, marks: dict[_YamlPath, int], source: str) -> MonitorSpec:
    try:
        return MonitorSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            field = ".".join(str(p) for p in loc) or "<document>"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{_line_of(loc, marks)}: {field}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_spec_text(text: str, *, source: str = "<string>") -> MonitorSpec:
    """Parse one spec from YAML text (the first document)."""
    specs = _load_all(text, source)
    if len(specs) != 1:
        raise ConfigError(f"{source}:1: expected exactly one spec document, found {len(specs)}")
    return specs[0]


def load_specs(path: str | Path) -> list[MonitorSpec]:
    """Load every spec of a YAML file (one per ``---`` document); model names must be unique."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read spec file: {exc.strerror}") from None
    specs = [_anchored(s, p.parent) for s in _load_all(decode_utf8(data, str(p)), str(p))]
    names = [s.model for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{p}: model names must be unique per file, got {names}")
    return specs


def _anchored(spec: MonitorSpec, base: Path) -> MonitorSpec:
    """``spec`` with a relative ``baseline.reference`` made absolute against the spec's folder."""
    ref = spec.baseline.reference
    if ref is None or Path(ref).is_absolute():
        return spec
    baseline = spec.baseline.model_copy(update={"reference": str((base / ref).resolve())})
    return spec.model_copy(update={"baseline": baseline})


def _load_all(text: str, source: str) -> list[MonitorSpec]:
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigError(f"{source}:{line}: invalid YAML: {exc.problem}") from None
    specs = []
    for node in nodes:
        if node is None:
            continue
        marks: dict[_YamlPath, int] = {}
        _marks(node, (), marks)
        data = yaml.SafeLoader("").construct_document(node)
        if not isinstance(data, dict):
            raise ConfigError(f"{source}:{node.start_mark.line + 1}: <document>: a spec must be a mapping")
        specs.append(_validate(data, marks, source))
    return specs
