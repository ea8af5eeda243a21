"""Wire the dashboard into a worker: the topic view, its follower task, the pages and actions.

:func:`attach_dashboard` is the one call ``glasswatch worker`` makes. At start a Faust task runs
a :class:`~glasswatch.kafka.history.TailFollower` over the alerts and acks topics (from their
beginning: latest state per fingerprint, bounded by the alert book) and the windows and
dead-letter topics (their last ``WINDOW_TAIL`` / ``DEAD_LETTER_TAIL`` records per partition),
then follows them live; the alerts this worker emits also reach the book directly (``book.add``),
so a page never waits for the round trip. Acks and silences are written through the compacted
stores (:mod:`glasswatch.kafka.ack_store`, :mod:`glasswatch.kafka.silence_store`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from glasswatch.alerting.silence import Silence
from glasswatch.kafka.ack_store import AckStore
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.kafka.baseline_accepts import AcceptLog
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.history import TailFollower
from glasswatch.kafka.silence_store import SilenceStore
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.ack import AlertAck
from glasswatch.web.actions import attach_actions
from glasswatch.web.alerts import AlertBook, attach_alert_pages, topic_loader
from glasswatch.web.consumer_lag import faust_highwaters, lag_of
from glasswatch.web.dashboard import Dashboard, attach_pages, attach_static
from glasswatch.web.history import DashboardState

__all__ = ["DEAD_LETTER_TAIL", "WINDOW_TAIL", "attach_dashboard"]

log = logging.getLogger(__name__)

WINDOW_TAIL = 5000
"""Records of each windows-topic partition read at start (one per stream per window; the view
keeps the last 500 windows of each stream)."""
DEAD_LETTER_TAIL = 500
"""Records of each dead-letter partition read at start."""


def attach_dashboard(gw: GlasswatchApp, book: AlertBook, spec_for: Callable[[str], MonitorSpec]) -> Dashboard:
    """Register every dashboard page on ``gw.app`` and start following the topics with it."""
    s = gw.settings
    topics = s.topics
    bootstrap = s.kafka.bootstrap
    state = DashboardState(
        alerts_topic=topics.alerts,
        windows_topic=topics.windows,
        acks_topic=topics.acks,
        dead_letters_topic=topics.dead_letters,
        book=book,
    )
    inputs = (topics.predictions, topics.features, topics.labels)

    highwaters = faust_highwaters(gw.app, inputs)

    async def lag() -> dict[str, int] | None:
        """What ``glasswatch_consumer_lag`` reports: highwater - (last applied offset + 1)."""
        hw = highwaters()
        if not hw:
            return None
        applied = {(st.topic, st.partition): st.last_offset for st in gw.read_states().values()}
        return {f"{t}[{p}]": n for (t, p), n in lag_of(hw, applied).items()}

    dashboard = Dashboard(state, spec_for, states=gw.read_states, lag=lag, dead_letter_tail=DEAD_LETTER_TAIL)
    acks = AckStore.connect(bootstrap, topics.acks)
    silences = SilenceStore(CompactedTopic(bootstrap, topics.silences))

    async def put_ack(ack: AlertAck) -> None:
        await acks.put(ack)

    async def put_silence(silence: Silence) -> None:
        await silences.put(silence)

    follower = TailFollower(
        bootstrap,
        {
            topics.alerts: None,
            topics.acks: None,
            topics.windows: WINDOW_TAIL,
            topics.dead_letters: DEAD_LETTER_TAIL,
        },
        state.apply,
    )

    async def follow() -> None:
        await follower.run()

    gw.app.task(follow)
    attach_static(gw.app)
    attach_pages(gw.app, dashboard)
    attach_alert_pages(gw.app, book, topic_loader(bootstrap, topics.alerts, book), dashboard.alert_extras)
    attach_actions(gw.app, dashboard, put_ack, put_silence,
                   put_accept=AcceptLog(bootstrap, topics.baseline_accepts).put)  # fmt: skip
    return dashboard
