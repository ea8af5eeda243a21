"""``glasswatch router run``: consume the alerts topic and deliver (route, group, mute, notify)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.settings import Settings

__all__ = ["register", "run_router"]


def run_router(
    settings: Settings,
    routes_file: Path | None,
    *,
    environ: Mapping[str, str],
    group_id: str = "glasswatch-router",
) -> None:
    """Run the router until interrupted.

    Receiver secrets a routing file names by environment variable are resolved from ``environ``,
    the snapshot ``cli.py`` took (this module reads no environment itself). A routing file that
    does not load (a receiver URL the client cannot use included) raises
    :class:`~glasswatch.errors.ConfigError` before anything starts: ``glasswatch`` prints one
    line and exits with status 2.
    """
    from glasswatch.agents.router import RouterRuntime
    from glasswatch.alerting.dispatcher import Dispatcher
    from glasswatch.alerting.notify.build import build_notifiers
    from glasswatch.alerting.notify.receivers import SecretRef
    from glasswatch.alerting.routes import default_routing, load_routing_file

    n = settings.notify
    if routes_file is not None:
        config = load_routing_file(routes_file)
    else:
        config = default_routing(
            settings.env,
            desktop=settings.env == "local" and n.desktop,
            slack_channel=n.slack_channel,
            slack_token=SecretRef(value=n.slack_token) if n.slack_token else None,
            pagerduty_key=SecretRef(value=n.pagerduty_routing_key) if n.pagerduty_routing_key else None,
        )
    notifiers, redactor = build_notifiers(config, environ, env=settings.env)
    runtime = RouterRuntime(
        bootstrap=settings.kafka.bootstrap,
        alerts_topic=settings.topics.alerts,
        dead_letter_topic=settings.topics.dead_letters,
        silences_topic=settings.topics.silences,
        acks_topic=settings.topics.acks,
        state_topic=settings.topics.router_state,
        deliveries_topic=settings.topics.deliveries,
        dispatcher=Dispatcher(config, redact=redactor, alerts_topic=settings.topics.alerts),
        notifiers=notifiers,
        group_id=group_id,
        redact=redactor,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # finish in-flight deliveries, then leave the group
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await runtime.run(stop)

    asyncio.run(main())


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``router`` group to ``app``."""
    router = typer.Typer(
        help="The alert router (alerts topic → Slack, PagerDuty, desktop, log).", no_args_is_help=True
    )
    app.add_typer(router, name="router")

    @router.command("run")
    def router_run(
        routes_file: Annotated[
            Path | None, typer.Option("--routes", help="routing YAML (default routes if absent)")
        ] = None,
        group_id: Annotated[str, typer.Option(help="Kafka consumer group")] = "glasswatch-router",
    ) -> None:
        """Consume the alerts topic and deliver (commits offsets only after delivery)."""
        from glasswatch.kafka.log_limits import StartupNoise
        from glasswatch.logs import configure_logging

        configure_logging(logging.INFO)  # in the format of --log-format
        StartupNoise().install()  # the consumer group's expected start-up errors at DEBUG (for 120 s)
        run_router(context(), routes_file, environ=context.environ(), group_id=group_id)
