"""A seeded mutation fuzz of the decoder: hostile messages in, the decoder's promise checked.

:func:`fuzz` feeds the messages of a :class:`~glasswatch.testing.mutations.Fuzzer` (valid events
put through one of its :data:`~glasswatch.testing.mutations.MUTATIONS`) to
:func:`~glasswatch.ingest.validate.decode` and checks the decoder's promise on each: it never
raises, every refusal has a reason from :data:`~glasswatch.schemas.dead_letter.REASONS`, and
every item of a message is accounted for exactly once (:func:`violations`).
``tests/unit/ingest/test_fuzz.py`` runs a bounded fuzz in CI, ``bench/fuzz.py`` (``just fuzz``)
the long one.

Examples
--------
>>> from datetime import datetime, timezone
>>> start = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> report = fuzz(400, seed=1, start=start)
>>> report.messages, report.crashes, report.violations
(400, 0, [])
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from glasswatch.ingest.validate import Decoded, Limits, decode
from glasswatch.schemas.dead_letter import REASONS
from glasswatch.testing.mutations import Fuzzer

__all__ = ["FuzzReport", "fuzz", "violations"]


@dataclass
class FuzzReport:
    """What a fuzz run saw (``bench/fuzz.py`` prints it as JSON)."""

    messages: int = 0
    accepted_messages: int = 0
    accepted_events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    violations: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "accepted_messages": self.accepted_messages,
            "accepted_events": self.accepted_events,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "mutations": dict(sorted(self.kinds.items())),
            "crashes": self.crashes,
            "violations": len(self.violations),
            "first_violations": self.violations[:5],
            "elapsed_s": round(self.elapsed_s, 2),
            "messages_per_s": round(self.messages / self.elapsed_s) if self.elapsed_s else None,
        }


def _items(raw: bytes) -> int | None:
    """Events a message holds: ``n`` for a batch envelope of a list of ``n``, else 1 (None: unparsable)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # the stdlib reads numbers beyond float64 (decode clamps them and judges the items)
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    if isinstance(doc, dict) and doc.get("type") == "batch" and isinstance(doc.get("events"), list):
        return len(doc["events"])
    return 1


def violations(raw: bytes, result: Decoded) -> list[str]:
    """How ``result`` (``decode(raw)``) breaks the decoder's contract; empty when it keeps it.

    Every refusal has a known reason; a message is refused as a whole (one reject without an
    index, no events) or judged item by item, each item either an event or one reject with its
    own index.
    """
    out = [f"unknown reason {r.reason!r}" for r in result.rejects if r.reason not in REASONS]
    whole = [r for r in result.rejects if r.index is None]
    if whole:
        if len(result.rejects) != 1 or result.events:
            out.append(
                f"a whole-message reject beside {len(result.events)} events, {len(result.rejects)} rejects"
            )
        return out
    indexes = [r.index for r in result.rejects]
    if len(set(indexes)) != len(indexes):
        out.append(f"an item rejected twice: {sorted(indexes)}")  # type: ignore[type-var]
    n = _items(raw)
    if n is None:
        out.append("unparsable message accepted")
    elif len(result.events) + len(result.ticks) + len(indexes) != n:
        out.append(f"{n} items but {len(result.events)} events + {len(indexes)} item rejects")
    elif any(not 0 <= i < n for i in indexes if i is not None):
        out.append(f"item index out of range: {indexes}")
    return out


def fuzz(
    n: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    budget_s: float | None = None,
    limits: Limits | None = None,
) -> FuzzReport:
    """Decode ``n`` fuzzed messages (or as many as ``budget_s`` seconds allow) and check each.

    ``start`` is the first event's time (default: now minus 5 minutes, so unmutated events pass
    the clock-skew check); ``decode`` gets ``now = start + 5 min``.
    """
    start = start or datetime.now(UTC) - timedelta(minutes=5)
    now = start + timedelta(minutes=5)
    limits = limits or Limits()
    report = FuzzReport()
    began = time.perf_counter()
    for kind, raw in Fuzzer(seed=seed, start=start, max_bytes=limits.max_message_bytes).messages(n):
        report.messages += 1
        report.kinds[kind] += 1
        try:
            result = decode(raw, now=now, limits=limits)
        except Exception as exc:  # the promise under test: decode never raises
            report.crashes += 1
            report.violations.append(
                f"{kind}: decode raised {type(exc).__name__}: {exc!s:.200} on {raw[:120]!r}"
            )
            continue
        for problem in violations(raw, result):
            report.violations.append(f"{kind}: {problem} on {raw[:120]!r}")
        report.accepted_events += len(result.events)
        report.accepted_messages += not result.rejects
        report.rejected.update(r.reason for r in result.rejects)
        if budget_s is not None and time.perf_counter() - began > budget_s:
            break
    report.elapsed_s = time.perf_counter() - began
    return report
