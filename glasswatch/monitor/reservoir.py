"""The deterministic reservoir sample behind the window quantiles: Li's Algorithm L.

A stream's reservoir keeps at most :data:`CAPACITY` of its numbers, every number equally likely
to be kept. Algorithm L skips ahead to the next kept value and replaces a random slot, so a
stream of ``n`` values costs ``~CAPACITY * ln(n / CAPACITY)`` replacements, not one draw per
value. Its draws come from SplitMix64 seeded with ``key``, a hash of (seed, stream, pane start)
(:func:`stream_key`): the sample depends only on the values and their order, never on how they
were batched or on a wall clock. :class:`~glasswatch.monitor.aggregates.StreamAgg` feeds it in
blocks; :func:`~glasswatch.monitor.aggregates.quantiles` reads the samples.

Examples
--------
>>> import numpy as np
>>> key = stream_key(0, "feature:x", 0)
>>> values = [float(i) for i in range(10_000)]
>>> sample, skip = extend_sample(np.empty(0), values[:100], 0, key, None)  # not full: kept whole
>>> len(sample), skip
(100, None)
>>> sample, skip = extend_sample(sample, values[100:], 100, key, skip)
>>> len(sample), skip.next > 10_000, round(float(sample.mean()) / 5000, 1)  # a uniform sample
(256, True, 1.0)
>>> again, _ = extend_sample(np.empty(0), values, 0, key, None)  # other batching, same sample
>>> bool((again == sample).all())
True
"""

from __future__ import annotations

import hashlib
import math
from typing import NamedTuple

import numpy as np

__all__ = ["CAPACITY", "Skip", "extend_sample", "stream_key"]

CAPACITY = 256
"""Reservoir size per pane and stream (a power of two up to 256: slots come from 8 hash bits)."""

_MASK = (1 << 64) - 1


def stream_key(seed: int, stream: str, pane_start: int) -> int:
    """64-bit key of one pane's stream: the reservoir's coin flips derive from it."""
    digest = hashlib.blake2b(f"{seed}:{stream}:{pane_start}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _draw(state: int) -> tuple[int, int]:
    """SplitMix64: the next state and its 64-bit output."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


class Skip(NamedTuple):
    """Algorithm L's state: the index of the next value to keep, ``log W`` and the generator state."""

    next: int
    log_w: float
    state: int


def _skip(z: int, log_w: float) -> int:
    """Values to pass over before the next one is kept: ``floor(log u / log(1 - W)) + 1``."""
    den = math.log(-math.expm1(log_w))
    return int(math.log(((z >> 36) | 1) * 2.0**-28) / den) + 1 if den < 0.0 else 1 << 62


def extend_sample(
    sample: np.ndarray, block: list[float], seen: int, key: int, skip: Skip | None
) -> tuple[np.ndarray, Skip | None]:
    """The reservoir of the first ``seen + len(block)`` values: ``sample`` (of the first ``seen``)
    extended by ``block``, and Algorithm L's state to pass on (``None`` until the sample is full).
    ``sample`` itself is not changed; ``key`` seeds the draws.

    Each kept value takes one 64-bit draw: bits 0-7 pick the slot, bits 8-35 update ``W`` and
    bits 36-63 draw the next skip (28-bit uniforms).
    """
    fill = max(0, min(CAPACITY - seen, len(block)))
    if fill:
        sample = np.concatenate((sample, np.asarray(block[:fill], dtype=np.float64)))
    if seen + fill < CAPACITY:
        return sample, skip
    if skip is None:  # just filled: the first skip
        state, z = _draw(key)
        log_w = math.log((((z >> 8) & 0xFFFFFFF) | 1) * 2.0**-28) / CAPACITY
        skip = Skip(CAPACITY - 1 + _skip(z, log_w), log_w, state)
    nxt, log_w, state = skip
    end = seen + len(block)
    if nxt >= end:
        return sample, skip
    sample = sample.copy()
    log, expm1 = math.log, math.expm1
    while nxt < end:  # _draw and _skip, inlined (runs ~CAPACITY * ln(n / CAPACITY) times in all)
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        sample[z & 0xFF] = block[nxt - seen]
        log_w += log((((z >> 8) & 0xFFFFFFF) | 1) * 2.0**-28) / CAPACITY
        den = log(-expm1(log_w))
        nxt += int(log(((z >> 36) | 1) * 2.0**-28) / den) + 1 if den < 0.0 else 1 << 62
    return sample, Skip(nxt, log_w, state)
