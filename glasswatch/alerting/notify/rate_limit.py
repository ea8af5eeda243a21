"""At most one message per ``interval`` per key (Slack allows ~1 message/second/channel).

The clock and sleep are injected so tests never wait.

Examples
--------
>>> t = [0.0]
>>> waits = []
>>> def sleep(s):
...     waits.append(s)
...     t[0] += s
>>> limiter = RateLimiter(1.0, clock=lambda: t[0], sleep=sleep)
>>> limiter.wait("#ml"); limiter.wait("#ml"); limiter.wait("#other")
>>> waits
[1.0]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Spaces calls per key by ``interval`` seconds (thread-safe)."""

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        """Block until a call for ``key`` is allowed, and claim it."""
        with self._lock:
            last = self._last.get(key)
            now = self.clock()
            if last is not None and now - last < self.interval:
                self.sleep(self.interval - (now - last))
                now = self.clock()
            self._last[key] = now
