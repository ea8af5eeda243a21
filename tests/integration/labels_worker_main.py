"""A worker running the ingest agent with the label join step (``attach_labels``), started as a script by
tests/integration/test_labels_worker.py; settings from the ``GLASSWATCH_*`` environment, the
performance window and registered metrics from ``GW_TEST_WINDOW`` / ``GW_TEST_REGISTERED``.

Once ``glasswatch worker`` registers the labels agent itself, the test can start that instead.
"""

from __future__ import annotations

import asyncio
import json
import os

from faust.worker import Worker

from glasswatch.agents.ingest import attach_ingest
from glasswatch.agents.labels import attach_labels
from glasswatch.drift.performance import PerformanceConfig
from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
from glasswatch.kafka.app import create_app
from glasswatch.settings import Settings


def main() -> None:
    settings = Settings()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings.kafka.bootstrap, glasswatch_topics(settings)))
    gw = create_app(settings)
    config = PerformanceConfig(window=int(os.environ.get("GW_TEST_WINDOW", "500")))
    registered = json.loads(os.environ.get("GW_TEST_REGISTERED", "null"))
    step = attach_labels(
        gw, config_for=lambda _model: config, registered=(lambda _m, _v: registered) if registered else None
    )
    attach_ingest(gw, monitors=False, then=step)  # the join as a step of ingest, as in the worker
    Worker(gw.app, loglevel="warning", loop=loop, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
