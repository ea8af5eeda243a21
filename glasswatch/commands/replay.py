"""``glasswatch replay``: re-run the monitor over exact Kafka offsets to reproduce an alert."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.ingest.tick_auth import TickAuth
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

__all__ = ["parse_range", "register"]

_RANGE = re.compile(r"^(?P<topic>[^:]+):(?P<partition>\d+):(?P<first>\d+)-(?P<last>\d+)$")


def parse_range(text: str) -> tuple[str, int, int, int]:
    """``topic:partition:first-last`` → (topic, partition, first, last).

    >>> parse_range("glasswatch-predictions:2:100-250")
    ('glasswatch-predictions', 2, 100, 250)
    """
    m = _RANGE.match(text)
    if m is None or int(m["first"]) > int(m["last"]):
        raise ConfigError(f"--offsets {text!r}: expected TOPIC:PARTITION:FIRST-LAST with FIRST <= LAST")
    return m["topic"], int(m["partition"]), int(m["first"]), int(m["last"])


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    @app.command()
    def replay(
        model: str = typer.Option(..., help="Model whose events to replay."),
        offsets: list[str] = typer.Option(
            ..., help="TOPIC:PARTITION:FIRST-LAST, as in an alert's replay_command."
        ),
        from_offset: int | None = typer.Option(
            None,
            "--from",
            help="Start reading each partition here (e.g. 0) so learned bands and detectors "
            "get the history they need to reproduce an alert; default: the range's first offset.",
        ),
        spec_file: Path | None = typer.Option(
            None, "--spec", help="Monitor spec YAML (default: the worker's GLASSWATCH_WORKER__MONITOR_SPECS)."
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

        Monitors are deterministic, so replaying a model's messages from the partition's start
        (--from 0) up to an alert's window yields the same alert, id included. The alert's own
        ``replay_command`` shows the window's range.
        """
        from glasswatch.commands.worker import spec_lookup
        from glasswatch.kafka.reader import read_range
        from glasswatch.monitor.replay import replay as run_replay

        s = settings()
        try:
            ranges = [parse_range(o) for o in offsets]
            spec = spec_lookup(spec_file or s.worker.monitor_specs)(model)
            tick_auth = None if trust_ticks else _tick_auth(s)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        report: list[dict[str, object]] = []
        for topic, partition, first, last in ranges:
            start = first if from_offset is None else min(from_offset, first)
            try:
                msgs = asyncio.run(read_range(s.kafka.bootstrap, topic, partition, start, last))
            except BrokerError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from exc
            result = run_replay(msgs, model=model, spec=spec, tick_auth=tick_auth, trust_ticks=trust_ticks)
            in_range = [
                w
                for w in result.windows
                if any(o.partition == partition and o.last >= first and o.first <= last for o in w.offsets)
            ]
            if dump is not None:
                with dump.open("a") as fh:
                    for m in msgs:
                        if m.value is not None:
                            fh.write(m.value.decode("utf-8", errors="replace") + "\n")
            if as_json:
                report.append(
                    {
                        "topic": topic,
                        "partition": partition,
                        "first": start,
                        "last": last,
                        "messages": len(msgs),
                        "events": result.events,
                        "rejects": dict(result.rejects),
                        "config_hash": result.config_hash,
                        "alerts": [a.model_dump(mode="json") for a in result.alerts],
                        "windows": [w.model_dump(mode="json") for w in in_range],
                    }
                )
                continue
            typer.echo(
                printable(
                    f"{topic}[{partition}] offsets {start}-{last}: {len(msgs)} messages, "
                    f"{result.events} events of {model}, rejects {dict(result.rejects) or 0}, "
                    f"spec hash {result.config_hash}"
                )
            )
            typer.echo(f"\nwindows touching {first}-{last}:")
            for w in in_range:
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
        if as_json:
            typer.echo(json.dumps(report, indent=2, default=str))


def _tick_auth(s: Settings) -> TickAuth | None:
    """The worker's tick key when this machine has it (configured, or the worker's key file);
    never generates one."""
    from glasswatch.kafka.state_codec import KEY_FILE, load_state_key

    if s.worker.state_key is None and not (s.worker.data_dir / KEY_FILE).is_file():
        return None
    return TickAuth(load_state_key(s.worker))


def _f(x: object) -> str:
    """A number to 4 significant digits, anything else as printable text (names come from producers)."""
    return f"{x:.4g}" if isinstance(x, float) else "-" if x is None else printable(str(x))
