"""``glasswatch silence add|list|expire``: mute alerts for a while.

Silences live in the compacted topic ``settings.topics.silences`` keyed by silence id; ``list``
reads it to its end; ``expire`` writes the silence again with ``ends_at=now``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from glasswatch.errors import ConfigError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.kafka.silence_store import SilenceStore

__all__ = ["register", "render_silences"]


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
        # anyone who can write the silences topic wrote these: escape control characters
        matchers = printable(",".join(str(m) for m in s.matchers))
        sid, by, comment = printable(s.id), printable(s.created_by), printable(s.comment)
        rows.append(f"{sid:<33} {state:<8} {s.ends_at.isoformat():<26} {by:<9} {matchers}  {comment}")
    return "\n".join(rows)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach the ``silence`` group to ``app``."""
    silence = typer.Typer(
        help="Mute alerts for a while (stored in the silences topic).", no_args_is_help=True
    )
    app.add_typer(silence, name="silence")

    def store() -> SilenceStore:
        from glasswatch.kafka.compacted import CompactedTopic
        from glasswatch.kafka.silence_store import SilenceStore

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
        from glasswatch.alerting.route_tree import parse_duration
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
        typer.echo(f"expired {printable(silence_id)}")
