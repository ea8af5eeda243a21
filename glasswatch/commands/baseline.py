"""``glasswatch baseline accept|list``: accept a model's current level as its new normal.

``accept`` writes a :class:`~glasswatch.schemas.baseline_accept.BaselineAccept` to the
baseline-accepts topic (:class:`~glasswatch.kafka.baseline_accepts.AcceptLog`); the worker applies
it once per monitor of the model, at a point of the event stream a replay finds again
(:mod:`glasswatch.agents.baseline_accepts`). ``at`` defaults to a few seconds ahead of now
(:data:`~glasswatch.schemas.baseline_accept.ACCEPT_LEAD`), so the worker reads the accept before
the model's events reach that time. ``list`` prints a model's accepts; every string anyone wrote
is shown through :func:`~glasswatch.schemas.text.printable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import BrokerError, ConfigError
from glasswatch.schemas.baseline_accept import ACCEPT_LEAD, BaselineAccept
from glasswatch.schemas.text import printable

__all__ = ["register", "render_accepts"]

_T = TypeVar("_T")

_HELP = (
    "Accept a new normal for a model's learned bands and drift detectors.\n\n"
    "Accepting says: the level the signals are at now is the new normal. For every signal of MODEL "
    "that --signal matches (an fnmatch pattern such as 'feature:age:*'; default: every signal), the "
    "learned (dynamic) band and the drift detectors take their current level as their baseline, and "
    "their open alerts resolve (the resolve names the accept). Static bands are a person's own "
    "numbers and are unchanged.\n\n"
    "The accept is stored on the baseline-accepts topic and applied by the worker once, when the "
    "model's events reach --at (event time); a replay applies it at the same point."
)


def render_accepts(accepts: list[BaselineAccept]) -> str:
    """One line per accept, oldest first (escaped: anyone may write the topic)."""
    if not accepts:
        return "no accepts"
    lines = []
    for a in accepts:
        pattern = printable(a.signal, limit=80) if a.signal is not None else "*"
        note = f"  {printable(a.note, limit=120)}" if a.note else ""
        lines.append(f"{a.id}  at {a.at.isoformat()}  signal {pattern}  by {printable(a.by, limit=40)}{note}")
    return "\n".join(lines)


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(coro)
    except (BrokerError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _when(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC) + ACCEPT_LEAD
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--at {printable(text)!r}: expected an ISO time (2026-01-01T12:00:00Z)") from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``baseline`` group to ``app``."""
    group = typer.Typer(help="Accept a new normal for a model's learned bands and drift detectors.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(group, name="baseline")

    @group.command("accept", help=_HELP)
    def baseline_accept(
        model: Annotated[str, typer.Argument(help="The model.")],
        signal: Annotated[
            str | None, typer.Option(help="Signals to accept, an fnmatch pattern (default: all).")
        ] = None,
        by: Annotated[str | None, typer.Option(help="Who accepts (default: $USER).")] = None,
        note: Annotated[str, typer.Option(help="Why, for the team.")] = "",
        at: Annotated[
            str | None,
            typer.Option(help=f"Event time it applies from (ISO; default: now + {ACCEPT_LEAD.seconds}s)."),
        ] = None,
    ) -> None:
        s = context()
        who = by or context.environ().get("USER") or "unknown"

        async def go() -> BaselineAccept:
            from glasswatch.kafka.baseline_accepts import AcceptLog

            try:
                accept = BaselineAccept.create(model=model, signal=signal, at=_when(at), by=who, note=note,
                                               created_at=datetime.now(UTC))  # fmt: skip
            except ValueError as exc:
                raise ConfigError(f"invalid accept: {printable(str(exc), limit=500)}") from exc
            log = AcceptLog(s.kafka.bootstrap, s.topics.baseline_accepts)
            try:
                await log.put(accept)
            finally:
                await log.close()
            return accept

        a = _run(go())
        pattern = printable(a.signal) if a.signal is not None else "* (every signal)"
        typer.echo(f"accepted {a.id}: model {printable(a.model)}, signal {pattern}, from {a.at.isoformat()}")

    @group.command("list")
    def baseline_list(model: Annotated[str, typer.Argument(help="The model.")]) -> None:
        """List a model's accepts on the baseline-accepts topic, oldest first."""
        s = context()

        async def go() -> list[BaselineAccept]:
            from glasswatch.kafka.baseline_accepts import AcceptLog

            log = AcceptLog(s.kafka.bootstrap, s.topics.baseline_accepts)
            try:
                return await log.read(model)
            finally:
                await log.close()

        typer.echo(render_accepts(_run(go())))
