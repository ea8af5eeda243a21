"""Make a Faust table write land in the right partition when processing a batch.

Faust routes a table write (its local store *and* its changelog record) to the partition of the
"current event", a context variable set per event by the stream iterator. ``take_events`` yields
lists from another task, so the agent sets it to the batch's last event of the partition it is
writing for. This touches one private name of faust (``faust.streams._current_event``),
isolated here and covered by the restart test.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

from faust import streams as _streams

__all__ = ["event_context"]


@contextlib.contextmanager
def event_context(event: Any) -> Iterator[None]:
    token = _streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _streams._current_event.reset(token)
