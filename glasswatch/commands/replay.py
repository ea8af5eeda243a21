"""``glasswatch replay``: re-run the monitor over exact Kafka offsets to reproduce an alert.

An alert's ``replay_command`` is runnable as printed and gives back the alert, id and evidence
included: ``--from`` is where the worker's partition state began and ``--through`` the last
message the worker had applied when it evaluated the window (the alert's ``lineage.state_offsets``),
so the replay rebuilds the same learned bands and detectors and closes the window with the same
events. Without ``--through`` a replay reads on past the range until its windows have closed
(never a window cut at the range's end). ``--spec FILE`` runs another spec over the same history
(what would it have raised?). A replay only reads: it writes no topic and no worker state.
It arms each model version's bands from its reference as the worker does
(``GLASSWATCH_WORKER__BASELINES``, the spec's ``baseline`` section, MLflow at
``GLASSWATCH_MLFLOW__TRACKING_URI``; see :mod:`glasswatch.agents.baselines`), fetched when the
replay meets the version, so an alert judged against a reference replays identically. It applies
the model's baseline accepts (the baseline-accepts topic) at the records where the worker applied
them (:mod:`glasswatch.agents.baseline_accepts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.ingest.tick_auth import TickAuth
    from glasswatch.monitor.baselines import BaselineLookup
    from glasswatch.monitor.replay import Message, Replayer
    from glasswatch.monitor.specs import MonitorSpec

__all__ = ["CHUNK", "READ_ON", "parse_range", "register"]

_RANGE = re.compile(r"^(?P<topic>[^:]+):(?P<partition>\d+):(?P<first>\d+)-(?P<last>\d+)$")
CHUNK = 2000
"""Messages fed to the monitors at a time (progress granularity; chunking changes no result)."""
READ_ON = 200
"""Messages read at a time past a range until its windows have closed."""


def parse_range(text: str) -> tuple[str, int, int, int]:
    """``topic:partition:first-last`` → (topic, partition, first, last).

    >>> parse_range("glasswatch-predictions:2:100-250")
    ('glasswatch-predictions', 2, 100, 250)
    """
    m = _RANGE.match(text)
    if m is None or int(m["first"]) > int(m["last"]):
        raise ConfigError(f"--offsets {text!r}: expected TOPIC:PARTITION:FIRST-LAST with FIRST <= LAST")
    return m["topic"], int(m["partition"]), int(m["first"]), int(m["last"])


def _when(text: str | None, option: str) -> datetime | None:
    """An ISO time (``Z`` or an offset allowed; naive means UTC); ``ConfigError`` otherwise."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: expected an ISO time such as 2026-01-01T12:00:00Z") from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    @app.command()
    def replay(
        model: str = typer.Option(..., help="Model whose events to replay."),
        offsets: list[str] = typer.Option(
            [], help="TOPIC:PARTITION:FIRST-LAST, as in an alert's replay_command (repeatable)."
        ),
        from_offset: int | None = typer.Option(
            None,
            "--from",
            min=0,
            help="Start reading each partition here (an alert's lineage: where the worker's state "
            "began) so learned bands and detectors get their history; default: the range's first offset.",
        ),
        through: int | None = typer.Option(
            None,
            "--through",
            min=0,
            help="Read each partition through this offset and leave the windows still open then "
            "open, as the worker had them. Default: read on past the range until its windows close.",
        ),
        from_time: str | None = typer.Option(
            None,
            "--from-time",
            help="Instead of --offsets: the messages written (Kafka timestamp) from this ISO time on "
            "(every partition of --topic; UTC unless it names a zone).",
        ),
        to_time: str | None = typer.Option(
            None, "--to-time", help="With --from-time: up to this time (default: now)."
        ),
        topic: str | None = typer.Option(
            None, help="Topic for --from-time/--to-time (default: the predictions topic)."
        ),
        spec_file: Path | None = typer.Option(
            None,
            "--spec",
            help="Monitor spec YAML (default: the worker's GLASSWATCH_WORKER__MONITOR_SPECS): replay "
            "another spec over history to see what it would have raised.",
        ),
        dump: Path | None = typer.Option(None, help="Write the replayed events as JSON lines to this file."),
        as_json: bool = typer.Option(False, "--json", help="Print alerts and window summaries as JSON."),
        trust_ticks: bool = typer.Option(
            False,
            "--trust-ticks",
            help="Take every tick in the log as the worker's. Default: verify each tick's signature "
            "with the worker's state key (GLASSWATCH_WORKER__STATE_KEY or <data_dir>/state.key), or, "
            "without the key, take the ticks that carry the worker's header.",
        ),
    ) -> None:
        """Reproduce what the worker computed from exact Kafka offsets: statistics, windows, alerts.

        Monitors are deterministic: an alert's ``replay_command`` (``--from`` the start of the
        worker's state ``--through`` the message after which it evaluated the window) gives back
        the same alert, id and evidence included. Reads only; progress on stderr when a terminal.
        """
        from glasswatch.agents.baseline_accepts import accepting_state
        from glasswatch.commands.worker import spec_lookup
        from glasswatch.kafka.baseline_accepts import read_accepts
        from glasswatch.kafka.reader import read_range, time_ranges
        from glasswatch.monitor.replay import Replayer

        s = settings()
        started = time.monotonic()
        try:
            ranges = [parse_range(o) for o in offsets]
            if not ranges and from_time is None:
                raise ConfigError("give --offsets TOPIC:PARTITION:FIRST-LAST or --from-time (and --to-time)")
            if ranges and (from_time is not None or to_time is not None):
                raise ConfigError("give either --offsets or --from-time/--to-time, not both")
            since, until = _when(from_time, "--from-time"), _when(to_time, "--to-time")
            for _, _, _first, last in ranges:
                if through is not None and through < last:
                    raise ConfigError(f"--through {through} ends before the range's last offset {last}")
            spec = spec_lookup(spec_file or s.worker.monitor_specs)(model)
            tick_auth = None if trust_ticks else _tick_auth(s)
            baselines = _baselines(s, spec)
        except ConfigError as exc:
            raise _fail(exc) from exc
        bootstrap = s.kafka.bootstrap
        # (topic, partition, shown first, shown last, read from, read through or None)
        plan: list[tuple[str, int, int, int, int, int | None]] = []
        if ranges:
            for t, p, first, last in ranges:
                start = first if from_offset is None else min(from_offset, first)
                plan.append((t, p, first, last, start, through))
        else:
            assert since is not None
            t = topic or s.topics.predictions
            try:
                spans = asyncio.run(time_ranges(bootstrap, t, since, until or datetime.now(UTC)))
            except BrokerError as exc:
                raise _fail(exc) from exc
            plan = [(t, p, a, b, a, None) for p, (a, b) in sorted(spans.items())]
            if not plan:
                typer.echo(f"no messages in {t} between those times", err=True)
        try:  # the baseline accepts, applied where the worker applied them
            accepts = asyncio.run(read_accepts(bootstrap, s.topics.baseline_accepts, model))
        except BrokerError as exc:
            raise _fail(exc) from exc
        report: list[dict[str, Any]] = []
        totals = {"messages": 0, "events": 0, "alerts": 0, "windows": 0}
        with _progress() as bar:
            for t, p, first, last, start, stop in plan:
                r = Replayer(model=model, spec=spec, tick_auth=tick_auth, trust_ticks=trust_ticks,
                             baselines=baselines)  # fmt: skip
                if accepts:
                    r.state = accepting_state(t, p, accepts)
                end = last if stop is None else stop
                task = bar.add_task(f"reading {t}[{p}] {start}-{end}", total=end - start + 1)
                advance = functools.partial(bar.advance, task)
                try:
                    msgs = asyncio.run(read_range(bootstrap, t, p, start, end, progress=advance))
                    bar.reset(task, total=len(msgs), description=f"replaying {t}[{p}] {start}-{end}")
                    _feed(r, msgs, dump, advance)
                    notes = _check_start(msgs, start)
                    if stop is None:
                        notes += _read_on(r, bootstrap, t, p, last, dump, read_range)
                except BrokerError as exc:
                    raise _fail(exc) from exc
                bar.remove_task(task)
                result = r.result(close_open=stop is None and not r.covered(last))
                if result.closed_early:
                    notes.append(
                        "the log ended before the last windows closed: they were closed early "
                        "(values may differ from the worker's, which closes them with later events)"
                    )
                shown = [
                    w
                    for w in result.windows
                    if any(o.partition == p and o.last >= first and o.first <= last for o in w.offsets)
                ]
                totals["messages"] += result.messages
                totals["events"] += result.events
                totals["alerts"] += len(result.alerts)
                totals["windows"] += len(result.windows)
                entry = {
                    "topic": t,
                    "partition": p,
                    "first": start,
                    "last": max(r.last_offset, start),
                    "messages": result.messages,
                    "events": result.events,
                    "rejects": dict(result.rejects),
                    "config_hash": result.config_hash,
                    "closed_early": result.closed_early,
                    "notes": notes,
                    "alerts": [a.model_dump(mode="json") for a in result.alerts],
                    "windows": [w.model_dump(mode="json") for w in shown],
                }
                if as_json:
                    report.append(entry)
                else:
                    _print(entry, result, shown, model, first, last)
        if as_json:
            typer.echo(json.dumps(report, indent=2, default=str))
        typer.echo(
            f"replayed {totals['messages']} messages ({totals['events']} events of {printable(model)}) "
            f"in {time.monotonic() - started:.1f} s: {totals['alerts']} alerts, {totals['windows']} windows",
            err=True,
        )


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A rich progress bar on stderr, drawn only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
    with bar:
        yield bar


def _feed(r: Replayer, msgs: list[Message], dump: Path | None, progress: Callable[[int], None]) -> None:
    for i in range(0, len(msgs), CHUNK):
        chunk = msgs[i : i + CHUNK]
        r.update(chunk)
        progress(len(chunk))
    _dump(dump, msgs)


def _dump(dump: Path | None, msgs: list[Message]) -> None:
    if dump is None:
        return
    with dump.open("a") as fh:
        for m in msgs:
            if m.value is not None:
                fh.write(m.value.decode("utf-8", errors="replace") + "\n")


def _check_start(msgs: list[Message], start: int) -> list[str]:
    if msgs and msgs[0].coord.offset > start:
        return [
            f"the log now begins at offset {msgs[0].coord.offset}, after {start}: the state before "
            "it cannot be rebuilt, so learned bands and detectors may differ from the worker's"
        ]
    return []


def _read_on(r: Replayer, bootstrap: str, topic: str, partition: int, last: int, dump: Path | None,
             read_range: Any) -> list[str]:  # fmt: skip
    """Read past ``last`` one message at a time (fetched in chunks) until every window holding
    the range's events has closed, as the worker closed them; [] or a note."""
    nxt = max(r.last_offset, last) + 1
    while not r.covered(last):
        msgs: list[Message] = asyncio.run(read_range(bootstrap, topic, partition, nxt, nxt + READ_ON - 1))
        if not msgs:
            return []  # the log's end: result() closes the rest early and says so
        for m in msgs:
            r.update([m])
            _dump(dump, [m])
            nxt = m.coord.offset + 1
            if r.covered(last):
                break
    if r.last_offset > last:
        return [f"read on through offset {r.last_offset}, the message that closed the range's last window"]
    return []


def _print(entry: dict[str, Any], result: Any, shown: list[Any], model: str, first: int, last: int) -> None:
    typer.echo(
        printable(
            f"{entry['topic']}[{entry['partition']}] offsets {entry['first']}-{entry['last']}: "
            f"{entry['messages']} messages, {entry['events']} events of {model}, "
            f"rejects {entry['rejects'] or 0}, spec hash {entry['config_hash']}"
        )
    )
    for note in entry["notes"]:
        typer.echo(f"note: {printable(note)}")
    typer.echo(f"\nwindows touching {first}-{last}:")
    for w in shown:
        typer.echo(
            f"  {w.start:%Y-%m-%d %H:%M:%S}..{w.end:%H:%M:%S}  {_f(w.stream):<22} n={w.count:<6} "
            f"mean={_f(w.mean)} std={_f(w.std)} p95={_f(w.p95)} missing={w.missing_rate:.3f}"
        )
    typer.echo(f"\nalerts ({len(result.alerts)}):")
    for a in result.alerts:
        ev = a.evidence
        typer.echo(
            f"  {a.status.value:<8} {a.kind.value:<18} {_f(a.signal):<32} at {a.starts_at:%H:%M:%S}  "
            f"value={_f(ev.get('value'))} band={_f(ev.get('band') or ev.get('threshold'))}  "
            f"id={_f(a.id)}"
        )


def _baselines(s: Settings, spec: MonitorSpec) -> BaselineLookup | None:
    """The worker's reference baselines for ``spec``'s model (blocking lookups: no event loop
    to keep free here); ``None`` when the worker runs without them."""
    from glasswatch.commands.worker import baseline_provider

    provider = baseline_provider(s, lambda _model: spec)
    return None if provider is None else provider.resolve


def _tick_auth(s: Settings) -> TickAuth | None:
    """The worker's tick key when this machine has it (configured, or the worker's key file);
    never generates one."""
    from glasswatch.ingest.tick_auth import TickAuth
    from glasswatch.kafka.state_codec import KEY_FILE, load_state_key

    if s.worker.state_key is None and not (s.worker.data_dir / KEY_FILE).is_file():
        return None
    return TickAuth(load_state_key(s.worker))


def _f(x: object) -> str:
    """A number to 4 significant digits, anything else as printable text (names come from producers)."""
    return f"{x:.4g}" if isinstance(x, float) else "-" if x is None else printable(str(x))
