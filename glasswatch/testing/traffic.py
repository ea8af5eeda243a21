"""Seeded synthetic traffic: realistic prediction events and malformed messages of every kind.

Examples
--------
>>> from datetime import datetime, timezone
>>> gen = TrafficGenerator(model="churn", seed=7, start=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> e = gen.event(0)
>>> sorted(e["features"])[:3], e["type"]
(['age', 'balance', 'country'], 'prediction')
>>> gen.event(0) == TrafficGenerator(model="churn", seed=7,
...     start=datetime(2026, 1, 1, tzinfo=timezone.utc)).event(0)
True
>>> [kind for kind, _ in gen.malformed(3)]
['not_json', 'wrong_type', 'non_finite']
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

__all__ = ["MALFORMED_KINDS", "SHIFTABLE", "Shift", "TrafficGenerator"]

MALFORMED_KINDS = (
    "not_json",
    "wrong_type",
    "non_finite",
    "missing_field",
    "oversize",
    "unknown_schema_version",
    "bad_utf8",
    "unknown_type",
)
"""The malformed kinds :meth:`TrafficGenerator.malformed` cycles through, each with the reason
code the validator must give it (the kind *is* the expected reason)."""


SHIFTABLE = ("age", "balance")
"""Numeric features a :class:`Shift` can move (the prediction follows them)."""


@dataclass(frozen=True)
class Shift:
    """A change injected on event indices ``[at, until)`` (``until`` None: to the end), for drift
    demos and detector tests.

    >>> Shift.parse("age:+15@0.5", events=1000)
    Shift(at=500, feature='age', mean_delta=15.0, scale=1.0, missing_rate=None, until=None)
    >>> Shift.parse("balance:-300@200-0.9", events=1000).until
    900
    """

    at: int
    feature: str = "age"
    mean_delta: float = 0.0
    scale: float = 1.0
    missing_rate: float | None = None
    until: int | None = None

    def active(self, i: int) -> bool:
        return i >= self.at and (self.until is None or i < self.until)

    @classmethod
    def parse(cls, text: str, events: int) -> Shift:
        """``FEATURE:DELTA@AT[-UNTIL]``: add ``DELTA`` to ``FEATURE`` from event ``AT`` (an index,
        or a fraction of ``events`` when written with a dot) to ``UNTIL`` (same forms)."""
        m = re.fullmatch(r"\s*(\w+):([+-]?\d+(?:\.\d*)?)@(\d+(?:\.\d*)?)(?:-(\d+(?:\.\d*)?))?\s*", text)
        if m is None:
            raise ValueError(f"drift {text!r}: expected FEATURE:+DELTA@AT[-UNTIL], e.g. age:+15@0.5")
        feature, delta, at, until = m.groups()
        if feature not in SHIFTABLE:
            raise ValueError(f"drift {text!r}: feature must be one of {', '.join(SHIFTABLE)}")

        def index(x: str) -> int:
            return round(float(x) * events) if "." in x else int(x)

        start, stop = index(at), None if until is None else index(until)
        if stop is not None and stop <= start:
            raise ValueError(f"drift {text!r}: UNTIL must come after AT")
        return cls(at=start, feature=feature, mean_delta=float(delta), until=stop)


@dataclass
class TrafficGenerator:
    """Deterministic generator of a model's events (same seed → same events)."""

    model: str = "demo"
    model_version: str = "1"
    seed: int = 42
    start: datetime | None = None
    rate_per_s: float = 100.0
    shifts: tuple[Shift, ...] = ()
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _t(self, i: int) -> str:
        assert self.start is not None, "start time is required"
        return (self.start + timedelta(seconds=i / self.rate_per_s)).isoformat()

    def event(self, i: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{i}")
        age = rng.gauss(40.0, 12.0)
        income = math.exp(rng.gauss(10.5, 0.5))
        balance = rng.gauss(2500.0, 900.0)
        tenure = float(rng.randint(0, 120))
        missing = 0.02
        for s in self.shifts:
            if s.active(i):
                if s.feature == "age":
                    age = 40.0 + (age - 40.0) * s.scale + s.mean_delta
                elif s.feature == "balance":
                    balance = 2500.0 + (balance - 2500.0) * s.scale + s.mean_delta
                if s.missing_rate is not None:
                    missing = s.missing_rate
        features: dict[str, Any] = {
            "age": round(age, 3),
            "income": round(income, 2),
            "balance": round(balance, 2) if rng.random() > missing else None,
            "tenure_months": tenure,
            "country": rng.choices(["DE", "FR", "US", "IN", "BR"], weights=[30, 20, 25, 15, 10])[0],
            "plan": rng.choice(["basic", "pro", "team"]),
        }
        z = -3.0 + 0.04 * (age - 40) + 0.0004 * (2500 - balance) + 0.01 * tenure
        p = 1.0 / (1.0 + math.exp(-z))
        return {
            "schema_version": 1,
            "type": "prediction",
            "model": self.model,
            "model_version": self.model_version,
            "prediction_id": f"{self.model}-{self.seed}-{i}",
            "event_time": self._t(i),
            "features": features,
            "prediction": round(p, 6),
            "probabilities": {"0": round(1 - p, 6), "1": round(p, 6)},
            "latency_ms": round(abs(rng.gauss(12.0, 3.0)), 3),
            "tags": {"source": "simulate"},
        }

    def events(self, n: int, first: int = 0) -> Iterator[dict[str, Any]]:
        for i in range(first, first + n):
            yield self.event(i)

    def malformed(self, m: int, max_bytes: int = 900_000) -> Iterator[tuple[str, bytes]]:
        """``m`` malformed payloads as (expected reason, bytes), cycling through the kinds."""
        for j in range(m):
            kind = MALFORMED_KINDS[j % len(MALFORMED_KINDS)]
            base = self.event(10_000_000 + j)
            yield kind, _corrupt(kind, base, max_bytes)


def _corrupt(kind: str, ev: dict[str, Any], max_bytes: int) -> bytes:
    if kind == "not_json":
        return orjson.dumps(ev)[:-7]
    if kind == "wrong_type":
        ev["features"]["age"] = "forty"
        ev["model_version"] = 3
        return orjson.dumps(ev)
    if kind == "non_finite":
        return orjson.dumps(ev).replace(b'"tenure_months":', b'"tenure_months":NaN,"x_inf":Infinity,"t":', 1)
    if kind == "missing_field":
        del ev["prediction_id"]
        return orjson.dumps(ev)
    if kind == "oversize":
        ev["tags"] = {"blob": "x" * 1000}
        ev["features"] = {f"f{k}": "y" * 1000 for k in range(max_bytes // 1000 + 1)}
        return orjson.dumps(ev)
    if kind == "unknown_schema_version":
        ev["schema_version"] = 99
        return orjson.dumps(ev)
    if kind == "bad_utf8":
        return orjson.dumps(ev).replace(b'"simulate"', b'"\xff\xfe\xfa"', 1)
    if kind == "unknown_type":
        ev["type"] = "explanation"
        return orjson.dumps(ev)
    raise ValueError(f"unknown malformed kind {kind!r}")
