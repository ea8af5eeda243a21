"""Seeded mutations of valid events: the hostile messages the decoder fuzz feeds it.

:class:`Fuzzer` is a pure generator: the same seed gives the same messages. Each message is a
valid event (from :class:`~glasswatch.testing.traffic.TrafficGenerator`) put through one
:data:`MUTATIONS` kind — bit flips, truncations, type swaps, extreme numbers, deep nesting, huge
strings, duplicate keys, surrogates, splices, batches of such items, pretty-printing — or left
alone (``valid``). :func:`glasswatch.testing.fuzz.fuzz` decodes them and checks each verdict.

Examples
--------
>>> from datetime import datetime, timezone
>>> start = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> kinds = [kind for kind, _ in Fuzzer(seed=1, start=start).messages(6)]
>>> kinds == [kind for kind, _ in Fuzzer(seed=1, start=start).messages(6)]
True
>>> set(kinds) <= set(MUTATIONS)
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from glasswatch.testing.traffic import TrafficGenerator

__all__ = ["MUTATIONS", "Fuzzer"]

MUTATIONS = (
    "valid",
    "bit_flip",
    "truncate",
    "type_swap",
    "extreme_number",
    "deep_nesting",
    "huge_string",
    "duplicate_key",
    "surrogate",
    "splice",
    "pretty",
    "batch",
)
"""The mutation kinds, drawn uniformly."""

_ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -1.5,
    "",
    "x",
    "2026-01-01T00:00:00Z",
    1767225600,
    [],
    {},
    [1, 2],
    {"a": {"b": 1}},
    10**30,
)
_EXTREME_NUMBERS: tuple[Any, ...] = (
    1e100,
    -1e100,
    1e101,
    -1e101,
    10**100,
    -(10**100),
    10**100 + 1,
    10**101,
    10**400,
    -(10**400),
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    2**63,
    -(2**63) - 1,
    2**64,
)
_RAW_NUMBERS = (b"1e400", b"-1e400", b"1" + b"0" * 400, b"1e-400", b"NaN", b"-Infinity", b"01", b"1.", b"+1")
_DEPTHS = (8, 200, 1_000, 1_024, 1_025, 5_000, 100_000)
_SURROGATES = (
    b"\\ud800",
    b"\\udc00",
    b"\\ud800\\ud800",
    b"\\ud83d\\ude00",
    b"\\\\ud800",
    b"\xed\xa0\x80",
    b"\\u0000",
)


def _dumps(doc: Any) -> bytes:
    """Compact JSON that keeps what orjson refuses to write (NaN, Infinity, integers > 64 bits)."""
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass
class Fuzzer:
    """Seeded generator of mutated messages (same seed, same messages)."""

    seed: int = 0
    start: datetime | None = None
    max_bytes: int = 900_000

    def messages(self, n: int) -> Iterator[tuple[str, bytes]]:
        """``n`` messages as (mutation kind, bytes)."""
        rng = random.Random(self.seed)
        start = self.start or datetime(2026, 1, 1, tzinfo=UTC)
        # 10,000 events per second of event time: a million messages span 100 s, inside the skew limit
        gen = TrafficGenerator(model=f"fuzz{self.seed}", seed=self.seed, start=start, rate_per_s=1e4)
        for i in range(n):
            kind = rng.choice(MUTATIONS)
            yield kind, self.mutate(kind, gen.event(i), rng, gen)

    def mutate(self, kind: str, doc: dict[str, Any], rng: random.Random, gen: TrafficGenerator) -> bytes:
        """One message of ``kind`` made from the valid event ``doc``."""
        if kind == "batch":
            n = rng.choice((1, 2, 3, 10, 50))
            items = [self.mutate(rng.choice(MUTATIONS[:-1]), gen.event(rng.randrange(1_000_000)), rng, gen)]
            items += [_dumps(gen.event(rng.randrange(1_000_000))) for _ in range(n - 1)]
            rng.shuffle(items)
            head = rng.choice(
                (b'{"type":"batch","events":[', b'{"schema_version":1,"type":"batch","events":[')
            )
            return head + b",".join(items) + b"]}"
        if kind == "valid":
            return _dumps(doc)
        if kind == "type_swap":
            return _dumps(_swap(doc, rng, _ODD_VALUES))
        if kind == "extreme_number":
            if rng.random() < 0.3:
                raw = _dumps(doc)
                return raw.replace(
                    b'"latency_ms":', b'"latency_ms":' + rng.choice(_RAW_NUMBERS) + b',"x":', 1
                )
            return _dumps(_swap(doc, rng, _EXTREME_NUMBERS, numeric=True))
        if kind == "pretty":
            text = json.dumps(
                doc, indent=rng.choice((None, 1, 4)), separators=(", ", rng.choice((": ", " : ")))
            )
            return text.encode()
        raw = _dumps(doc)
        if kind == "bit_flip":
            data = bytearray(raw)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            return bytes(data)
        if kind == "truncate":
            return raw[: rng.randrange(len(raw))]
        if kind == "deep_nesting":
            d = rng.choice(_DEPTHS)
            opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
            nested = opener * d + b"1" + closer * d if opener != b"[" else opener * d + closer * d
            if rng.random() < 0.3:
                return nested
            return raw.replace(b'"age":', b'"age":' + nested + b',"x":', 1)
        if kind == "huge_string":
            size = rng.choice((1_024, 1_025, 100_000, self.max_bytes - len(raw), self.max_bytes + 1))
            field = rng.choice(("model", "prediction_id", "model_version", "prediction"))
            doc[field] = "x" * max(size, 0)
            return _dumps(doc)
        if kind == "duplicate_key":
            dup = rng.choice(
                (
                    b'"model":"other",',
                    b'"event_time":"2026-01-01T00:00:00Z",',
                    b'"type":"label",',
                    b'"model":"',
                )
            )
            if rng.random() < 0.5:
                return raw.replace(b'"features":{', b'"features":{"age":1,', 1)
            return b"{" + dup + raw[1:]
        if kind == "surrogate":
            return raw.replace(b'"simulate"', b'"' + rng.choice(_SURROGATES) + b'"', 1)
        if kind == "splice":
            other = _dumps(gen.event(rng.randrange(1_000_000)))
            return raw[: rng.randrange(len(raw))] + other[rng.randrange(len(other)) :]
        raise ValueError(f"unknown mutation {kind!r}")


def _swap(
    doc: dict[str, Any], rng: random.Random, pool: tuple[Any, ...], numeric: bool = False
) -> dict[str, Any]:
    """``doc`` with one field (or one feature, probability or tag) set to a value from ``pool``."""
    spots: list[tuple[dict[str, Any], str]] = [(doc, k) for k in doc]
    for sub in ("features", "probabilities", "tags"):
        if isinstance(doc.get(sub), dict):
            spots += [(doc[sub], k) for k in doc[sub]]
    if numeric:
        spots = [(d, k) for d, k in spots if isinstance(d[k], float | int) and not isinstance(d[k], bool)]
    target, key = rng.choice(spots)
    target[key] = rng.choice(pool)
    return doc
