"""Reference baselines for the worker's monitors: fetched off the event loop, answered from memory.

A :class:`~glasswatch.monitor.model_monitor.ModelMonitor` asks its
:data:`~glasswatch.monitor.baselines.BaselineLookup` synchronously, on the event loop, the first
time it meets a model version (and remembers the answer). :class:`BaselineProvider` splits that:

* :meth:`BaselineProvider.prepare` (the ingest agent awaits it before the monitors run) takes the
  versions of a partition's pending predictions the provider has not resolved and the monitors
  have not met, and runs :meth:`~BaselineProvider.prefetch` for them in the provider's own thread
  (reading a reference from MLflow or a file, then
  :func:`~glasswatch.monitor.baselines.bootstrap_baseline`);
* :meth:`BaselineProvider.lookup`, the monitors' lookup, answers from memory only.

Where a reference comes from is the spec's ``baseline`` section
(:class:`~glasswatch.monitor.specs.BaselineSpec`): the file it names (for every version of the
model; one bootstrap per file content, re-used with each version's name), or the version's
reference in the registry (:class:`ReferenceResolver`: MLflow in production, resolved as the drift
process resolves it), or none. Without a registry, ``auto`` and ``mlflow`` mean learned bands.

A producer can invent model versions, so everything is bounded: built baselines in an LRU of
``max_cached``; a version without a reference, or whose fetch failed, is not fetched again for
``retry_s`` (a negative cache of at most ``max_negative``); at most ``max_per_minute`` references
are fetched per minute (a file reference already bootstrapped costs no fetch) — past it a version
gets no reference for now (logged once per minute). A registry or file error is logged once per
version (warning) and the version keeps learned bands; nothing here raises into the worker. A
prefetch slower than ``timeout_s`` finishes in the background while the batch goes on without it.
A monitor remembers the versions it met, with or without a reference: a version it met before
its reference arrived keeps learned bands (until the monitor forgets the version).

Deterministic: the bootstrap is seeded by the spec's ``seed`` and the reference's sha256, so the
same reference gives an equal :class:`~glasswatch.monitor.baselines.Baseline` and ``glasswatch
replay``, which builds the same provider, rebuilds the same bands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import pandas as pd

from glasswatch.drift.reference import Reference, file_digest, read_frame
from glasswatch.monitor.baselines import PREDICTION, Baseline, BaselineLookup, bootstrap_baseline
from glasswatch.monitor.partition import PartitionState, SpecLookup
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.events import PredictionEvent

__all__ = [
    "BaselineProvider",
    "LazyResolver",
    "ModelVersion",
    "ProviderStats",
    "ReferenceResolver",
    "columns_of",
    "pending_versions",
]

log = logging.getLogger(__name__)

ModelVersion = tuple[str, str]
"""(model, version)."""


class ReferenceResolver(Protocol):
    """The part of :class:`~glasswatch.drift.reference.ReferenceStore` the provider needs."""

    def resolve(self, model: str, version: str) -> Reference | None:
        """The version's reference, ``None`` if it has none; raises on registry errors."""
        ...


class LazyResolver:
    """A :class:`ReferenceResolver` built on first use (in the provider's thread: building the
    MLflow client imports MLflow, which the worker's start need not wait for)."""

    def __init__(self, factory: Callable[[], ReferenceResolver]) -> None:
        self.factory = factory
        self._store: ReferenceResolver | None = None

    def resolve(self, model: str, version: str) -> Reference | None:
        if self._store is None:
            self._store = self.factory()
        return self._store.resolve(model, version)


@dataclass
class ProviderStats:
    """What the provider did (counters)."""

    fetched: int = 0
    """References read and bootstrapped."""
    reused: int = 0
    """Versions given a file reference's baseline bootstrapped before."""
    missing: int = 0
    """Versions without a reference."""
    errors: int = 0
    throttled: int = 0
    """Versions refused a fetch by the per-minute cap."""
    timeouts: int = 0
    deferred: int = 0
    """Versions met while a timed-out fetch was still running (not fetched: learned bands)."""


def columns_of(frame: pd.DataFrame, names: Iterable[str]) -> dict[str, list[object]]:
    """Plain lists of ``frame``'s columns ``names`` (``None`` for NaN/NA), for the bootstrap."""
    out: dict[str, list[object]] = {}
    for name in names:
        values: list[object] = frame[name].tolist()
        out[str(name)] = [None if _missing(v) else v for v in values]
    return out


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def pending_versions(state: PartitionState) -> list[ModelVersion]:
    """(model, version) of the partition's pending predictions whose monitor has not met that
    version yet (in order of first appearance)."""
    found: dict[ModelVersion, None] = {}
    for item in state.pending:
        if isinstance(item, Located) and isinstance(item.event, PredictionEvent):
            ev = item.event
            mon = state.monitors.get(ev.model)
            if mon is None or ev.model_version not in mon._versions:  # met: it asks no more
                found[(ev.model, ev.model_version)] = None
    return list(found)


class BaselineProvider:
    """Reference baselines per (model, version), fetched by :meth:`prefetch`, answered by
    :meth:`lookup` (see the module docstring)."""

    def __init__(
        self,
        spec_for: SpecLookup,
        store: ReferenceResolver | None = None,
        *,
        max_cached: int = 64,
        max_negative: int = 4096,
        retry_s: float = 600.0,
        max_per_minute: int = 30,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(max_cached, max_negative, max_per_minute) < 1:
            raise ValueError("max_cached, max_negative and max_per_minute must be >= 1")
        self.spec_for = spec_for
        self.store = store
        self.max_cached = max_cached
        self.max_negative = max_negative
        self.retry_s = retry_s
        self.max_per_minute = max_per_minute
        self.timeout_s = timeout_s
        self.clock = clock
        self.stats = ProviderStats()
        self._lock = threading.Lock()
        self._built: OrderedDict[ModelVersion, Baseline] = OrderedDict()
        self._negative: OrderedDict[ModelVersion, float] = OrderedDict()
        self._files: OrderedDict[tuple[str, str, int, int], Baseline] = OrderedDict()
        self._warned: OrderedDict[ModelVersion, None] = OrderedDict()
        self._fetches: deque[float] = deque()
        self._throttle_logged = -math.inf
        self._in_flight: set[ModelVersion] = set()
        self._slow: threading.Event | None = None
        """Set when the fetch that timed out ends."""

    # -- the monitors' side (memory only) ---------------------------------------------------

    def lookup(self, model: str, version: str) -> Baseline | None:
        """The :data:`~glasswatch.monitor.baselines.BaselineLookup`: the version's baseline if
        it has been fetched, else ``None``. Never blocks on IO."""
        with self._lock:
            found = self._built.get((model, version))
            if found is not None:
                self._built.move_to_end((model, version))
            return found

    def resolve(self, model: str, version: str) -> Baseline | None:
        """A blocking :data:`BaselineLookup` (fetches first): for ``glasswatch replay``."""
        self.prefetch([(model, version)])
        return self.lookup(model, version)

    # -- fetching ---------------------------------------------------------------------------

    def prefetch(self, pairs: Iterable[ModelVersion]) -> None:
        """Fetch and bootstrap the references of ``pairs`` not known yet (blocking; never raises)."""
        self._fetch_claimed(self._claim(pairs))

    async def prepare(self, state: PartitionState) -> BaselineLookup:
        """Prefetch the versions ``state``'s pending predictions bring, in a thread of its own;
        wait at most ``timeout_s``; return :meth:`lookup` for ``run_monitors``.

        A daemon thread, not an executor's: a registry that hangs (MLflow retries for minutes)
        must not hold the worker's shutdown. Threads are few: one per batch that brings versions
        to fetch, and fetches are claimed (never twice at once) and capped per minute. After a
        timeout nothing new is fetched until that fetch ends, so a hanging registry costs ingest
        one wait of ``timeout_s``, not one per batch."""
        if self._slow is not None and not self._slow.is_set():
            self.stats.deferred += len(pending_versions(state))
            return self.lookup
        self._slow = None
        claimed = self._claim(pending_versions(state))
        if claimed:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()
            ended = threading.Event()

            def work() -> None:
                try:
                    self._fetch_claimed(claimed)
                finally:
                    ended.set()
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(_finish, done)

            threading.Thread(target=work, name="glasswatch-baselines", daemon=True).start()
            try:
                await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
            except TimeoutError:
                self._slow = ended
                self.stats.timeouts += 1
                log.warning(
                    "reference baselines of %s still loading after %.0f s: the batch goes "
                    "on with learned bands for them",
                    _names(claimed),
                    self.timeout_s,
                )
        return self.lookup

    def _claim(self, pairs: Iterable[ModelVersion]) -> list[ModelVersion]:
        """The pairs that need a fetch now, marked as in flight."""
        now = self.clock()
        out: list[ModelVersion] = []
        with self._lock:
            for pair in dict.fromkeys(pairs):
                if pair in self._built or pair in self._in_flight:
                    continue
                seen = self._negative.get(pair)
                if seen is not None and now - seen < self.retry_s:
                    continue
                if self._source(pair[0]) is None:
                    continue
                self._in_flight.add(pair)
                out.append(pair)
        return out

    def _source(self, model: str) -> str | None:
        """``file``, ``mlflow`` or ``None`` (learned) for ``model``'s spec."""
        b = self._spec(model).baseline
        if b.source == "none":
            return None
        if b.source == "file" or (b.source == "auto" and b.reference is not None):
            return "file"
        return "mlflow" if self.store is not None else None

    def _spec(self, model: str) -> MonitorSpec:
        return self.spec_for(model)

    def _fetch_claimed(self, pairs: Sequence[ModelVersion]) -> None:
        for pair in pairs:
            try:
                self._fetch_one(pair)
            except Exception as exc:  # a registry, file or bootstrap failure: learned bands
                self._failed(pair, exc)
            finally:
                with self._lock:
                    self._in_flight.discard(pair)

    def _fetch_one(self, pair: ModelVersion) -> None:
        model, version = pair
        spec = self._spec(model)
        source = self._source(model)
        if source == "file":
            assert spec.baseline.reference is not None
            path = spec.baseline.reference
            st = os.stat(path)
            key = (model, path, st.st_mtime_ns, st.st_size)
            with self._lock:
                template = self._files.get(key)
            if template is not None:
                self.stats.reused += 1
                return self._store_built(pair, replace(template, version=version))
        if not self._take_fetch_slot(pair):
            return
        if source == "file":
            frame = read_frame(path)
            built = self._bootstrap(spec, version, file_digest(path), columns_of(frame, frame.columns))
            with self._lock:
                self._files[key] = built
                while len(self._files) > self.max_cached:
                    self._files.popitem(last=False)
        else:
            assert self.store is not None
            ref = self.store.resolve(model, version)
            if ref is None:
                self.stats.missing += 1
                return self._mark_negative(pair)
            names = [*ref.features, *([ref.prediction] if ref.prediction else [])]
            columns = columns_of(ref.data, names)
            if ref.prediction and ref.prediction != PREDICTION:
                columns[PREDICTION] = columns.pop(ref.prediction)
            built = self._bootstrap(spec, version, ref.sha256, columns)
        self.stats.fetched += 1
        self._store_built(pair, built)

    @staticmethod
    def _bootstrap(
        spec: MonitorSpec, version: str, digest: str, columns: dict[str, list[object]]
    ) -> Baseline:
        b = spec.baseline
        return bootstrap_baseline(
            columns, spec, version=version, digest=digest, window_events=b.window_events,
            n_windows=b.bootstrap_windows, seed=spec.seed, expected_rate=b.expected_rate,
        )  # fmt: skip

    def _take_fetch_slot(self, pair: ModelVersion) -> bool:
        """Whether the per-minute cap allows one more fetch (counted when it does)."""
        now = self.clock()
        with self._lock:
            while self._fetches and now - self._fetches[0] >= 60.0:
                self._fetches.popleft()
            if len(self._fetches) < self.max_per_minute:
                self._fetches.append(now)
                return True
            self.stats.throttled += 1
            tell = now - self._throttle_logged >= 60.0
            if tell:
                self._throttle_logged = now
        if tell:
            log.warning("more than %d reference lookups a minute (model versions invented by a "
                        "producer?): %s v%s and others get learned bands for now",
                        self.max_per_minute, *pair)  # fmt: skip
        return False

    def _store_built(self, pair: ModelVersion, baseline: Baseline) -> None:
        with self._lock:
            self._built[pair] = baseline
            self._built.move_to_end(pair)
            while len(self._built) > self.max_cached:
                self._built.popitem(last=False)
            self._negative.pop(pair, None)

    def _mark_negative(self, pair: ModelVersion) -> None:
        with self._lock:
            self._negative[pair] = self.clock()
            self._negative.move_to_end(pair)
            while len(self._negative) > self.max_negative:
                self._negative.popitem(last=False)

    def _failed(self, pair: ModelVersion, exc: Exception) -> None:
        self.stats.errors += 1
        self._mark_negative(pair)
        with self._lock:
            first = pair not in self._warned
            self._warned[pair] = None
            while len(self._warned) > self.max_negative:
                self._warned.popitem(last=False)
        if first:  # the message only: a traceback per version would flood the log
            log.warning("no reference baseline for %s v%s (%s: %s): learned bands; retried after %.0f s",
                        *pair, type(exc).__name__, exc, self.retry_s)  # fmt: skip


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _names(pairs: Sequence[ModelVersion]) -> str:
    shown = ", ".join(f"{m} v{v}" for m, v in pairs[:3])
    return shown + (f" and {len(pairs) - 3} more" if len(pairs) > 3 else "")
