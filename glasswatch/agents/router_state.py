"""The router's side topics: silences and acks it follows, and its own state it keeps.

:class:`RouterSideTopics` is the part of :class:`~glasswatch.agents.router.RouterRuntime` that is
not the alerts topic:

* the router state (:class:`~glasswatch.kafka.router_state.RouterStateStore`, compacted): read at
  start into the inhibitor's and the Slack notifiers' state books, then
  :meth:`Dispatcher.restore <glasswatch.alerting.dispatcher.Dispatcher.restore>` re-routes the
  firing alerts it held (inhibition is back, and a receiver that still owes one — e.g. Slack,
  configured since its log fallback printed it — gets it); :meth:`RouterSideTopics.save` writes
  the changes and is called before every offset commit and after every settled delivery;
* silences (:class:`~glasswatch.kafka.silence_store.SilenceFeed`) and acks
  (:class:`~glasswatch.kafka.ack_store.AckFeed`), followed from the beginning: each poll adds new
  silences to the dispatcher's and hands each ack to
  :meth:`Dispatcher.acknowledge <glasswatch.alerting.dispatcher.Dispatcher.acknowledge>` (stop
  escalation, queue PagerDuty ``acknowledge`` / Slack reply for the receivers told of the firing;
  acks already told are in the delivery log, so replaying the topic after a restart re-tells
  nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from glasswatch.alerting.dispatcher import Dispatcher
from glasswatch.alerting.notify.base import Notifier
from glasswatch.alerting.state_book import StateBook
from glasswatch.kafka.ack_store import AckFeed
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.router_state import RouterStateStore
from glasswatch.kafka.silence_store import SilenceFeed

__all__ = ["RouterSideTopics", "state_books"]

log = logging.getLogger(__name__)


def state_books(dispatcher: Dispatcher, notifiers: Iterable[Notifier]) -> list[StateBook]:
    """Every state book of the dispatcher and of the notifiers that keep one (``.state``)."""
    books = [dispatcher.inhibitor.state] if dispatcher.inhibitor.state is not None else []
    books += [n.state for n in notifiers if isinstance(getattr(n, "state", None), StateBook)]  # type: ignore[attr-defined]
    return books


class RouterSideTopics:
    """See the module docstring; every topic is optional (``None``: not followed / not kept)."""

    def __init__(
        self,
        bootstrap: str,
        dispatcher: Dispatcher,
        notifiers: Iterable[Notifier],
        *,
        silences_topic: str | None = None,
        acks_topic: str | None = None,
        state_topic: str | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.silences = SilenceFeed(bootstrap, silences_topic) if silences_topic else None
        self.acks = AckFeed(bootstrap, acks_topic) if acks_topic else None
        books = state_books(dispatcher, notifiers)
        self.state = RouterStateStore(CompactedTopic(bootstrap, state_topic), books) if state_topic else None

    async def start(self, now: datetime) -> None:
        """Load the state and re-route its firing alerts, then start following silences and acks."""
        if self.state is not None:
            taken = await self.state.load()
            restored = self.dispatcher.restore(now)
            log.info("router: %d state entries loaded, %d firing alerts restored", taken, restored)
        if self.silences is not None:
            await self.silences.start()
        if self.acks is not None:
            await self.acks.start()

    async def poll(self, now: datetime) -> None:
        """Take new silences and acks (without waiting)."""
        if self.silences is not None:
            await self.silences.poll(self.dispatcher.silences)
        if self.acks is not None:
            for ack in await self.acks.poll():
                if self.dispatcher.acknowledge(ack, now):
                    log.info("router: alert %s acknowledged", ack.fingerprint)

    async def save(self) -> None:
        """Write the state that changed (returns once the broker has it)."""
        if self.state is not None:
            await self.state.flush()

    async def close(self) -> None:
        for feed in (self.silences, self.acks):
            if feed is not None:
                await feed.close()
        if self.state is not None:
            await self.state.close()
