"""``glasswatch silence add|list|expire``: mute alerts for a while.

Silences live in the compacted topic ``settings.topics.silences`` keyed by silence id; ``list``
reads it to its end; ``expire`` writes the silence again with ``ends_at=now``.
"""

from __future__ import annotations

import asyncio
import getpass
import unicodedata
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


_COLUMNS = (("ID", 32), ("STATE", 7), ("ENDS_AT", 25), ("BY", 20), ("MATCHERS", 60), ("COMMENT", 80))
"""Header and widest cell (terminal columns) of each ``silence list`` column; longer cells are cut
with ``…``."""


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two, combining marks none)."""
    total = 0
    for ch in text:
        if not unicodedata.combining(ch):
            total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def _fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` columns (ending in ``…`` when cut)."""
    if _width(text) <= limit:
        return text
    out, used = [], 1
    for ch in text:
        w = _width(ch)
        if used + w > limit:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def render_silences(silences: list[object], now: datetime, *, show_all: bool = False) -> str:
    """A table of silences (active and pending; expired too with ``show_all``).

    Cells are escaped (:func:`~glasswatch.schemas.text.printable`: anyone who can write the
    silences topic wrote them) and cut to bounded widths, and columns are padded by display
    width, so wide, escaped or East Asian text keeps every column aligned."""
    from glasswatch.alerting.silence import Silence

    rows: list[list[str]] = []
    for s in sorted((x for x in silences if isinstance(x, Silence)), key=lambda x: x.starts_at):
        state = "active" if s.active(now) else "pending" if s.starts_at > now else "expired"
        if state == "expired" and not show_all:
            continue
        ends = s.ends_at.astimezone(UTC).isoformat(timespec="seconds")
        matchers = ",".join(str(m) for m in s.matchers)
        cells = [s.id, state, ends, s.created_by, matchers, s.comment]
        rows.append([_fit(printable(c), limit) for c, (_, limit) in zip(cells, _COLUMNS, strict=True)])
    header = [name for name, _ in _COLUMNS]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(_COLUMNS))]
    lines = []
    for r in [header, *rows]:
        padded = [c + " " * (w - _width(c)) for c, w in zip(r[:-1], widths, strict=False)]
        lines.append("  ".join([*padded, r[-1]]).rstrip())
    return "\n".join(lines)


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
