"""A restricted unpickler for stored states: only the classes a state is made of, never code.

``pickle`` runs whatever callable a record names. :func:`restricted_loads` resolves a global only
when it is on an allowlist, so a record naming ``os.system``, ``builtins.eval`` or anything of
``subprocess`` is refused before it is looked up. This is defence in depth: the records it reads
are signed (:mod:`glasswatch.kafka.state_codec`); this keeps a leaked key from being a code
execution.

What may be named:

* an exact pair of :data:`ALLOWED` (builtin containers, ``collections``, ``datetime``,
  ``random.Random``, numpy's array reconstruction, pydantic's ``TzInfo``, ``functools.partial``);
* a **class defined in** a module under :data:`ALLOWED_PACKAGES` (glasswatch's pure stages and the
  River packages the monitors use). Functions, imported names (``specs.os``), dotted names
  (``specs.os.system``) and dunder names are refused even there;
* ``builtins.getattr``, which River needs to restore bound methods (``PageHinkley`` keeps its
  test as ``self._test_drift = self._test_both``), stands for a guard that returns only the
  methods of :data:`BOUND_METHODS`.

Names of earlier releases are mapped through :data:`MODULE_RENAMES` and :data:`CLASS_RENAMES`
before the check, so a state written before a module moved is still read.

Examples
--------
>>> import pickle
>>> from collections import Counter
>>> restricted_loads(pickle.dumps(Counter(a=2)))
Counter({'a': 2})
>>> restricted_loads(pickle.dumps(eval))
Traceback (most recent call last):
...
glasswatch.kafka.safe_unpickler.ForbiddenGlobal: a state may not name builtins.eval
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ALLOWED",
    "ALLOWED_PACKAGES",
    "BOUND_METHODS",
    "CLASS_RENAMES",
    "MODULE_RENAMES",
    "ForbiddenGlobal",
    "RestrictedUnpickler",
    "restricted_loads",
]

ALLOWED_PACKAGES = (
    "glasswatch.drift.labels",  # the label join's counters (agents/labels state)
    "glasswatch.drift.performance",  # performance monitors of the label join
    "glasswatch.monitor",
    "glasswatch.ingest",
    "glasswatch.schemas",
    "river.anomaly",
    "river.base",
    "river.drift",
    "river.proba",
    "river.sketch",
    "river.stats",
    "river.tree",
    "river.utils",
    "river._river_rust",
)
"""Packages whose own classes a state may hold (pure code: no I/O, no process control)."""

_BUILTINS = "bool bytearray bytes complex dict float frozenset int list object range set slice str tuple"
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [("builtins", name) for name in _BUILTINS.split()]
    + [("collections", name) for name in ("Counter", "OrderedDict", "defaultdict", "deque")]
    + [("datetime", name) for name in ("date", "datetime", "time", "timedelta", "timezone")]
    + [
        ("functools", "partial"),
        ("random", "Random"),
        ("pydantic_core._pydantic_core", "TzInfo"),  # tz of datetimes parsed by pydantic
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
    ]
)
"""Exact ``(module, name)`` pairs outside :data:`ALLOWED_PACKAGES` a state may name."""

BOUND_METHODS: Mapping[tuple[str, str], frozenset[str]] = {
    ("river.drift.page_hinkley", "PageHinkley"): frozenset(
        {"_test_both", "_test_increase", "_test_decrease"}
    ),
}
"""``getattr(obj, name)`` a state may perform: the class of ``obj`` → the method names."""

_CORE_MOVES = {
    "anomaly": "anomaly",
    "calibration": "calibration",
    "category_mix": "category_mix",
    "detectors": "detectors",
    "monitor": "model_monitor",
    "partition": "partition",
    "reject_rate": "reject_rate",
    "replay": "replay",
    "signal_alert": "signal_alert",
    "sketch": "aggregates",
    "specs": "specs",
    "stats": "stats",
    "summary": "summary",
    "thresholds": "thresholds",
    "windows": "windows",
}
MODULE_RENAMES: Mapping[str, str] = {
    **{f"glasswatch.core.{old}": f"glasswatch.monitor.{new}" for old, new in _CORE_MOVES.items()},
    "glasswatch.core.validate": "glasswatch.ingest.validate",
    "glasswatch.ingest.reject_rate": "glasswatch.monitor.reject_rate",
    "numpy.core.numeric": "numpy._core.numeric",  # numpy 1 names of the array reconstructors
    "numpy.core.multiarray": "numpy._core.multiarray",
}
"""Where a module of an earlier release went (the package reorganisation after release ac2668e)."""

CLASS_RENAMES: Mapping[tuple[str, str], tuple[str, str]] = {
    ("glasswatch.core.sketch", "_Skip"): ("glasswatch.monitor.reservoir", "Skip"),
    ("glasswatch.monitor.aggregates", "_Skip"): ("glasswatch.monitor.reservoir", "Skip"),
    ("glasswatch.schemas.alert", "OffsetRange"): ("glasswatch.schemas.coords", "OffsetRange"),
    # split out of their modules to keep each under ~300 lines (both older paths of each)
    ("glasswatch.core.windows", "ClosedWindow"): ("glasswatch.monitor.closed_window", "ClosedWindow"),
    ("glasswatch.monitor.windows", "ClosedWindow"): ("glasswatch.monitor.closed_window", "ClosedWindow"),
    ("glasswatch.core.monitor", "_Signal"): ("glasswatch.monitor.signal_state", "SignalState"),
    ("glasswatch.monitor.model_monitor", "_Signal"): ("glasswatch.monitor.signal_state", "SignalState"),
}
"""Classes that moved or were renamed (checked before :data:`MODULE_RENAMES`, so an entry names
the class's path in every earlier release that stored it)."""


class ForbiddenGlobal(pickle.UnpicklingError):
    """A record named a global a state may not contain (``module``, ``name`` as written)."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"a state may not name {module}.{name}")
        self.module = module
        self.name = name


def _in_packages(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in ALLOWED_PACKAGES)


def _bound_method(obj: object, name: str) -> Any:
    """The ``builtins.getattr`` a state may call: only the methods of :data:`BOUND_METHODS`."""
    cls = type(obj)
    if name not in BOUND_METHODS.get((cls.__module__, cls.__qualname__), frozenset()):
        raise ForbiddenGlobal("builtins", f"getattr({cls.__module__}.{cls.__qualname__}, {name!r})")
    return getattr(obj, name)


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose :meth:`find_class` applies the renames and the allowlist."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = CLASS_RENAMES.get((module, name), (module, name))
        module = MODULE_RENAMES.get(module, module)
        if (module, name) == ("builtins", "getattr"):
            return _bound_method
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        if "." in name or name.startswith("__") or not _in_packages(module):
            raise ForbiddenGlobal(module, name)
        found = super().find_class(module, name)
        if not isinstance(found, type) or found.__module__ != module:
            raise ForbiddenGlobal(module, name)  # a function, or a name the module imported
        return found


def restricted_loads(data: bytes) -> object:
    """Unpickle ``data`` through :class:`RestrictedUnpickler`; raises :class:`ForbiddenGlobal`
    for a refused global and the usual ``pickle``/``ImportError``/``AttributeError`` otherwise."""
    return RestrictedUnpickler(io.BytesIO(data)).load()
