"""Which predictions are explained: a deterministic sample chosen by the prediction id.

``sample_point(id)`` maps a prediction id to ``[0, 1)`` through sha256, so the same id is chosen
(or not) in every run and every replay, whatever the order or the partitioning of the events.
A prediction is explained when ``sample_point(id) < rate`` (the per-model rate) or when the
anomaly scorer flagged it (``anomalous=True``; the reason is recorded).

Examples
--------
>>> sample_point("p-1") == sample_point("p-1"), 0.0 <= sample_point("p-1") < 1.0
(True, True)
>>> chosen = [i for i in range(1000) if sample_reason(f"p-{i}", 0.1) is not None]
>>> len(chosen), sample_reason("p-3", 0.0), sample_reason("p-3", 0.0, anomalous=True)
(105, None, 'anomaly')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from glasswatch.schemas.explanation import SampleReason

__all__ = ["DEFAULT_RATE", "SampleRates", "sample_point", "sample_reason"]

DEFAULT_RATE = 0.05
"""Share of predictions explained when a model has no rate of its own."""


def sample_point(prediction_id: str) -> float:
    """The first 8 bytes of ``sha256(prediction_id)`` as a number in ``[0, 1)``."""
    digest = hashlib.sha256(prediction_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def sample_reason(prediction_id: str, rate: float, *, anomalous: bool = False) -> SampleReason | None:
    """``"anomaly"`` when flagged, ``"sampled"`` when the id falls in the sample, else ``None``."""
    if anomalous:
        return "anomaly"
    return "sampled" if sample_point(prediction_id) < rate else None


class SampleRates:
    """Per-model sample rates with a default.

    >>> SampleRates({"churn": 0.5}, default=0.01).rate("churn"), SampleRates().rate("other")
    (0.5, 0.05)
    """

    def __init__(self, rates: Mapping[str, float] | None = None, default: float = DEFAULT_RATE) -> None:
        for name, r in {**(rates or {}), "<default>": default}.items():
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"sample rate of {name} must be in [0, 1], got {r}")
        self.rates = dict(rates or {})
        self.default = default

    def rate(self, model: str) -> float:
        return self.rates.get(model, self.default)
