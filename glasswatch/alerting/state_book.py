"""A small key → bytes book of router state that must survive a restart, with its pending changes.

Router components that remember something between notifications (the Slack notifier's thread
``ts`` per alert, the inhibitor's firing alerts) write it to a :class:`StateBook`; the runtime
(:mod:`glasswatch.agents.router`) loads every book from the compacted router-state topic at
start (:meth:`StateBook.load`, not a change) and persists :meth:`StateBook.drain` — the keys set
or deleted since the last drain — before it commits alert offsets. Each book has a
``namespace`` (e.g. ``slack|oncall|``) that prefixes its keys in the topic, so one topic holds
them all. Thread-safe: notifiers write from worker threads while the loop drains.

Examples
--------
>>> book = StateBook("slack|team|")
>>> book.load("fp1", b"old")
>>> book.get("fp1"), book.drain()
(b'old', [])
>>> book.set("fp2", b"ts=1").delete("fp1").get("fp1") is None
True
>>> book.drain()
[('slack|team|fp2', b'ts=1'), ('slack|team|fp1', None)]
>>> book.drain(), dict(book.items())
([], {'fp2': b'ts=1'})
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Self

__all__ = ["StateBook"]


class StateBook:
    """Latest value per key, plus what changed since :meth:`drain`; see the module docstring."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._data: dict[str, bytes] = {}
        self._changed: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._data.get(key)

    def items(self) -> Iterator[tuple[str, bytes]]:
        """A snapshot of the entries (keys without the namespace)."""
        with self._lock:
            return iter(list(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

    def set(self, key: str, value: bytes) -> Self:
        """Store ``value`` (a no-op when it is already the value)."""
        with self._lock:
            if self._data.get(key) != value:
                self._data[key] = value
                self._changed[key] = value
        return self

    def delete(self, key: str) -> Self:
        with self._lock:
            if self._data.pop(key, None) is not None:
                self._changed[key] = None
        return self

    def load(self, key: str, value: bytes | None) -> None:
        """Take a value read back from the durable store (``None``: deleted); not a change."""
        with self._lock:
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value

    def drain(self) -> list[tuple[str, bytes | None]]:
        """The changes since the last drain as ``(namespaced key, value or None)``, in order."""
        with self._lock:
            out = [(self.namespace + k, v) for k, v in self._changed.items()]
            self._changed.clear()
        return out

    def owns(self, full_key: str) -> bool:
        """Whether a namespaced topic key belongs to this book."""
        return full_key.startswith(self.namespace)
