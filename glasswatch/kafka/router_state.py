"""The router's own state in a compacted topic (``TopicSettings.router_state``, default
``<alerts>.router-state``): what a restarted router needs besides the delivery log.

The state lives in :class:`~glasswatch.alerting.state_book.StateBook` objects owned by the
pure parts (the inhibitor's firing alerts, each Slack notifier's thread per alert); each book's
``namespace`` prefixes its keys in the topic (``inhibit|<fingerprint>``,
``slack|<receiver>|<fingerprint>``). :meth:`RouterStateStore.load` reads the topic to its end
into the books at start (keys no book owns are ignored: another version's, or junk);
:meth:`RouterStateStore.flush` writes what changed, a tombstone for a deleted key, and returns
once the broker has it (``acks=all``) — the router flushes before it commits alert offsets, so a
committed alert's effect on the state is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from glasswatch.alerting.state_book import StateBook
from glasswatch.kafka.compacted import CompactedTopic

__all__ = ["RouterStateStore"]


class RouterStateStore:
    """Loads and flushes ``books`` through ``topic``; see the module docstring."""

    def __init__(self, topic: CompactedTopic, books: Sequence[StateBook]) -> None:
        self.topic = topic
        self.books = sorted(books, key=lambda b: len(b.namespace), reverse=True)

    async def load(self) -> int:
        """Read the topic into the books; returns how many entries were taken."""
        taken = 0
        for key, raw in (await self.topic.read_all()).items():
            book = next((b for b in self.books if b.owns(key)), None)
            if book is not None:
                book.load(key[len(book.namespace) :], raw)
                taken += 1
        return taken

    async def flush(self) -> int:
        """Write every book's changes since the last flush; returns how many."""
        changes = [change for book in self.books for change in book.drain()]
        await self.topic.put_many(changes)
        return len(changes)

    async def close(self) -> None:
        await self.topic.close()
