"""``glasswatch alerts list|show|ack``: the open alerts, one alert's story, and acknowledging it.

Everything is rebuilt from the topics, so it is the same view the dashboard shows after a
restart: the alerts topic read to its end (latest state per fingerprint and its history; records
that are not valid alerts are skipped and counted) and the compacted acks topic
(:class:`~glasswatch.kafka.ack_store.AckStore`). ``ack`` writes an
:class:`~glasswatch.schemas.ack.AlertAck` of the alert's current firing episode; the router stops
escalating it and tells Slack and PagerDuty. Every string a producer wrote is shown through
:func:`~glasswatch.schemas.text.printable` (no terminal control sequence gets through).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import BrokerError, ConfigError
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.web.alerts import AlertBook

__all__ = ["register", "render_alert", "render_alerts"]

_T = TypeVar("_T")

_COLUMNS = (("FINGERPRINT", 16), ("STATUS", 8), ("SEVERITY", 8), ("MODEL", 20), ("KIND", 17),
            ("SIGNAL", 28), ("SINCE", 25), ("ACK", 12))  # fmt: skip


def _cell(value: str, width: int) -> str:
    return printable(value, limit=width).ljust(width)


def render_alerts(latest: Sequence[Alert], acks: dict[str, AlertAck], *, show_all: bool = False) -> str:
    """An aligned table of the latest alert per condition (firing only unless ``show_all``).

    >>> from glasswatch.schemas.alert import AlertKind, Severity
    >>> a = Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.WARNING, model="m\\x1b[2J",
    ...                 signal="events:rate", summary="rate dropped",
    ...                 starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> render_alerts([a], {}).splitlines()[1].split()[:5]  # the escape sequence shown, not run
    ['daefafbe47fc29cd', 'firing', 'warning', 'm\\\\x1b[2J', 'event_rate']
    """
    rows = [" ".join(name.ljust(w) for name, w in _COLUMNS) + " SUMMARY"]
    for a in latest:
        if a.status is not AlertStatus.FIRING and not show_all:
            continue
        ack = acks.get(a.fingerprint)
        by = ack.by if ack is not None and ack.covers(a.fingerprint, a.starts_at) else ""
        values = (a.fingerprint, a.status.value, a.severity.value, a.model, a.kind.value, a.signal,
                  a.starts_at.isoformat(), by)  # fmt: skip
        cells = [_cell(v, w) for v, (_, w) in zip(values, _COLUMNS, strict=True)]
        rows.append(" ".join(cells) + " " + printable(a.summary, limit=120))
    return "\n".join(r.rstrip() for r in rows)


def render_alert(history: Sequence[Alert], ack: AlertAck | None) -> str:
    """One condition: the latest alert's summary, labels, evidence, lineage, links, replay
    command, its history and its ack."""
    a = history[-1]
    p = printable
    lines = [
        f"{p(a.summary)}",
        f"fingerprint {a.fingerprint}  status {a.status.value}  severity {a.severity.value}",
        f"model {p(a.model)}  kind {a.kind.value}  signal {p(a.signal)}",
        f"since {a.starts_at.isoformat()}" + (f"  ended {a.ends_at.isoformat()}" if a.ends_at else ""),
        "",
        "labels:",
        *(f"  {p(k)} = {p(v)}" for k, v in sorted(a.labels.items())),
        "evidence:",
        *(f"  {p(k)} = {p(json.dumps(v, default=str, ensure_ascii=False))}" for k, v in a.evidence.items()),
        "lineage:",
        *(f"  {k} = {p(json.dumps(v, default=str, ensure_ascii=False))}"
          for k, v in a.lineage.model_dump(mode="json").items() if v not in (None, []))  ,
        "links:",
        *(f"  {k} {p(v)}" for k, v in a.links.model_dump().items() if v),
        f"replay: {p(a.replay_command or '(none)')}",
        "history:",
        *(f"  {h.status.value:<8} {(h.ends_at or h.starts_at).isoformat()}  {h.severity.value}"
          for h in history),
    ]  # fmt: skip
    if ack is not None and ack.covers(a.fingerprint, a.starts_at):
        note = f": {p(ack.note)}" if ack.note else ""
        lines.append(f"acknowledged by {p(ack.by)} at {ack.at.isoformat()}{note}")
    else:
        lines.append("not acknowledged")
    return "\n".join(lines)


async def _load(s: Settings) -> tuple[AlertBook, dict[str, AlertAck]]:
    from glasswatch.kafka.ack_store import AckStore
    from glasswatch.kafka.reader import read_topic
    from glasswatch.web.alerts import AlertBook

    book = AlertBook(capacity=100_000)
    for rec in await read_topic(s.kafka.bootstrap, s.topics.alerts):
        alert = book.parse(rec.value)
        if alert is not None:
            book.add(alert)
    store = AckStore.connect(s.kafka.bootstrap, s.topics.acks)
    try:
        acks = await store.load()
    finally:
        await store.close()
    return book, acks


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a command's coroutine; Kafka and usage errors end it with status 2 and one line."""
    try:
        return asyncio.run(coro)
    except (BrokerError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``alerts`` group to ``app``."""
    alerts = typer.Typer(help="Open alerts: list, show, acknowledge.",
                         no_args_is_help=True)  # fmt: skip
    app.add_typer(alerts, name="alerts")

    @alerts.command("list")
    def alerts_list(
        show_all: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    ) -> None:
        """List open alerts (latest state per condition), newest first."""
        book, acks = _run(_load(context()))
        typer.echo(render_alerts(book.latest(), acks, show_all=show_all))

    @alerts.command("show")
    def alerts_show(fingerprint: Annotated[str, typer.Argument(help="The alert's fingerprint.")]) -> None:
        """Show one alert: evidence, lineage, links, replay command, history and ack."""
        book, acks = _run(_load(context()))
        history = book.history(fingerprint)
        if not history:
            typer.echo(f"error: no alert with fingerprint {printable(fingerprint)!r}", err=True)
            raise typer.Exit(1)
        typer.echo(render_alert(history, acks.get(fingerprint)))

    @alerts.command("ack")
    def alerts_ack(
        fingerprint: Annotated[str, typer.Argument(help="The alert's fingerprint.")],
        by: Annotated[str | None, typer.Option(help="Who acknowledges (default: $USER).")] = None,
        note: Annotated[str, typer.Option(help="A short note for the team.")] = "",
    ) -> None:
        """Acknowledge an alert's current firing episode: escalation stops."""
        s = context()
        who = by or context.environ().get("USER") or "unknown"

        async def go() -> AlertAck:
            from glasswatch.kafka.ack_store import AckStore

            book, _ = await _load(s)
            history = book.history(fingerprint)
            if not history:
                raise ConfigError(f"no alert with fingerprint {printable(fingerprint)!r}")
            latest = history[-1]
            try:
                ack = AlertAck(fingerprint=latest.fingerprint, starts_at=latest.starts_at, by=who,
                               at=datetime.now(UTC), note=note)  # fmt: skip
            except ValueError as exc:
                raise ConfigError(f"invalid ack: {exc}") from exc
            store = AckStore.connect(s.kafka.bootstrap, s.topics.acks)
            try:
                await store.put(ack)
            finally:
                await store.close()
            return ack

        ack = _run(go())
        since = ack.starts_at.isoformat()
        typer.echo(f"acknowledged {ack.fingerprint} (firing since {since}) as {printable(who)}")
