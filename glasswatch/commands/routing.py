"""``glasswatch silence add|list|expire``, ``glasswatch routes check FILE`` and ``glasswatch router run``.

Silences live in the compacted topic ``settings.topics.silences`` keyed by silence id; ``list``
reads it to its end; ``expire`` writes the silence again with ``ends_at=now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.errors import ConfigError
from glasswatch.settings import Settings

__all__ = ["register", "render_silences", "run_router"]


def render_silences(silences: list[object], now: datetime, *, show_all: bool = False) -> str:
    """A table of silences (active and pending; expired too with ``show_all``)."""
    from glasswatch.alerting.silence import Silence

    rows = [
        "ID                                STATE    ENDS_AT                    BY        MATCHERS  COMMENT"
    ]
    for s in sorted((x for x in silences if isinstance(x, Silence)), key=lambda x: x.starts_at):
        state = "active" if s.active(now) else "pending" if s.starts_at > now else "expired"
        if state == "expired" and not show_all:
            continue
        matchers = ",".join(str(m) for m in s.matchers)
        rows.append(
            f"{s.id:<33} {state:<8} {s.ends_at.isoformat():<26} {s.created_by:<9} {matchers}  {s.comment}"
        )
    return "\n".join(rows)


def run_router(settings: Settings, routes_file: Path | None, *, group_id: str = "glasswatch-router") -> None:
    """Run the router until interrupted (secrets resolved from the environment here, at the edge)."""
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
    notifiers, redactor = build_notifiers(config, os.environ, env=settings.env)
    runtime = RouterRuntime(
        bootstrap=settings.kafka.bootstrap,
        alerts_topic=settings.topics.alerts,
        dead_letter_topic=settings.topics.dead_letters,
        silences_topic=settings.topics.silences,
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


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach the routing commands to ``app``."""
    from glasswatch.kafka.compacted import CompactedTopic
    from glasswatch.kafka.silence_store import SilenceStore

    silence = typer.Typer(
        help="Mute alerts for a while (stored in the silences topic).", no_args_is_help=True
    )
    routes = typer.Typer(help="Alert routing configuration.", no_args_is_help=True)
    router = typer.Typer(
        help="The alert router (alerts topic → Slack, PagerDuty, desktop, log).", no_args_is_help=True
    )
    app.add_typer(silence, name="silence")
    app.add_typer(routes, name="routes")
    app.add_typer(router, name="router")

    def store() -> SilenceStore:
        s = settings()
        return SilenceStore(CompactedTopic(s.kafka.bootstrap, s.topics.silences))

    @silence.command("add")
    def silence_add(
        matcher: Annotated[
            list[str], typer.Option("--matcher", "-m", help='e.g. -m model="churn" (repeatable)')
        ],
        duration: Annotated[str, typer.Option(help="how long, e.g. 2h, 30m")] = "2h",
        comment: Annotated[str, typer.Option(help="why")] = "",
        created_by: Annotated[str | None, typer.Option(help="who (default: your user name)")] = None,
    ) -> None:
        """Add a silence; prints its id."""
        from glasswatch.alerting.routes import parse_duration
        from glasswatch.alerting.silence import Silence

        now = datetime.now(UTC)
        try:
            s = Silence.create(
                matchers=matcher,
                starts_at=now,
                ends_at=now + parse_duration(duration),
                created_by=created_by or getpass.getuser(),
                comment=comment,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

        async def go() -> None:
            st = store()
            try:
                await st.put(s)
            finally:
                await st.close()

        asyncio.run(go())
        typer.echo(s.id)

    @silence.command("list")
    def silence_list(
        show_all: Annotated[bool, typer.Option("--all", help="include expired")] = False,
    ) -> None:
        """List silences (reads the topic to its end)."""

        async def go() -> list[object]:
            st = store()
            try:
                return list((await st.load()).all())
            finally:
                await st.close()

        typer.echo(render_silences(asyncio.run(go()), datetime.now(UTC), show_all=show_all))

    @silence.command("expire")
    def silence_expire(silence_id: str) -> None:
        """End a silence now."""

        async def go() -> None:
            st = store()
            try:
                await st.expire(silence_id, datetime.now(UTC))
            finally:
                await st.close()

        asyncio.run(go())
        typer.echo(f"expired {silence_id}")

    @routes.command("check")
    def routes_check(file: Path) -> None:
        """Validate a routing YAML and print the route tree."""
        from glasswatch.alerting.routes import load_routing_file

        try:
            config = load_routing_file(file)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(config.route.render())
        typer.echo("receivers: " + ", ".join(f"{r.name} ({r.kind})" for r in config.receivers))
        typer.echo(f"inhibit rules: {len(config.inhibit_rules)}")

    @router.command("run")
    def router_run(
        routes_file: Annotated[
            Path | None, typer.Option("--routes", help="routing YAML (default routes if absent)")
        ] = None,
        group_id: Annotated[str, typer.Option(help="Kafka consumer group")] = "glasswatch-router",
    ) -> None:
        """Consume the alerts topic and deliver (commits offsets only after delivery)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        run_router(settings(), routes_file, group_id=group_id)
