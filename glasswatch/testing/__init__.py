"""Public test support next to the seams: fakes, traffic generators, routing drivers.

``FakeClock`` and ``FakeNotifier`` are re-exported here; generators live in
:mod:`glasswatch.testing.traffic` and :mod:`glasswatch.testing.simulate`.
"""

from __future__ import annotations

from glasswatch.testing.fakes import FakeClock, FakeNotifier

__all__ = ["FakeClock", "FakeNotifier"]
