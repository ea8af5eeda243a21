"""``glasswatch calibrate MODEL``: tune a model's rule parameters to a false-alarm budget.

Replays a *clean* history (a stretch of the model's events believed normal) through the model's
monitor spec and picks, for each rule family of the spec's ``default`` — the learned band's ``k``,
Page-Hinkley's ``threshold``, ADWIN's ``delta``, KSWIN's ``alpha`` — the least conservative value
whose false alarms stay within the family's share of ``--false-alarms-per-100k`` (split equally
over the families the spec uses); see :func:`glasswatch.monitor.calibration.calibrate_spec`.

The history is exactly one of:

* ``--offsets TOPIC:PARTITION:FIRST-LAST`` (repeatable): messages read from Kafka with the reader
  ``glasswatch replay`` uses, decoded and validated the same way (no clock-skew check: the past
  is replayed); the model's prediction and feature events are kept, in offset order (several
  ranges are merged by event time). Worker ticks are not used: a clean history has no idle gaps
  to close.
* ``--from-reference FILE``: a CSV or parquet of reference rows (feature columns and an optional
  ``prediction`` column), bootstrapped with ``--seed`` into ``--events`` prediction events
  arriving as a Poisson stream at ``--rate`` events/s (as ``glasswatch.testing.simulate`` does).

The calibrated spec is printed (or written to ``--out``) as YAML that
:func:`glasswatch.monitor.specs.load_specs` reads: the input spec with the new values in its
``default`` (its ``signals`` overrides unchanged), headed by a comment with the measured rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.monitor.calibration import FamilyCalibration, SpecCalibration
    from glasswatch.monitor.specs import MonitorSpec
    from glasswatch.monitor.windows import Located

__all__ = ["register", "spec_yaml"]

_HELP = (
    "Calibrate a model's learned bands and drift detectors to a false-alarm budget.\n\n"
    "Replays a clean history of MODEL (exactly one of --offsets, read from Kafka, or "
    "--from-reference, reference rows bootstrapped into a stream) through its monitor spec and "
    "picks, per rule family of the spec's default (learned band k, Page-Hinkley threshold, ADWIN "
    "delta, KSWIN alpha), the least conservative value whose false alarms stay within "
    "--false-alarms-per-100k split equally over the families the spec uses. Prints the calibrated "
    "spec as YAML (or writes --out); one progress line per family on stderr."
)


def spec_yaml(spec: MonitorSpec, header: str = "") -> str:
    """``spec`` as YAML that :func:`~glasswatch.monitor.specs.load_specs` reads back equal (the
    fields that were set, and the ``drift`` section the dump leaves out); ``header`` lines become
    comments."""
    import yaml

    data: dict[str, Any] = spec.model_dump(mode="json", exclude_unset=True)
    data["model"] = spec.model
    if spec.drift is not None:
        data["drift"] = spec.drift
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.safe_dump(data, sort_keys=False)


def _load_spec(path: Path | None, model: str) -> MonitorSpec:
    from glasswatch.monitor.specs import MonitorSpec, load_specs

    if path is None:
        return MonitorSpec(model=model)
    specs = {s.model: s for s in load_specs(path)}
    if model not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise ConfigError(f"{path}: no spec for model {model!r} (models in the file: {known})")
    return specs[model]


def _reference_events(path: Path, *, model: str, n: int, rate: float, seed: int) -> Iterator[Located]:
    """``n`` prediction events of ``model`` from rows of ``path`` bootstrapped with ``seed``,
    Poisson arrivals at ``rate`` events/s from :data:`~glasswatch.testing.simulate.T0`."""
    from datetime import timedelta

    import numpy as np
    import pydantic

    from glasswatch.agents.baselines import columns_of
    from glasswatch.drift.reference import read_frame
    from glasswatch.monitor.windows import Located
    from glasswatch.schemas.coords import Coord
    from glasswatch.schemas.events import PredictionEvent
    from glasswatch.testing.simulate import T0

    try:
        frame = read_frame(path)
    except Exception as exc:  # pandas raises many kinds (OSError, ParserError, ArrowInvalid, ...)
        raise ConfigError(f"{path}: cannot read reference file: {exc}") from None
    if frame.empty:
        raise ConfigError(f"{path}: the reference has no rows: the clean history would be empty")
    names = [str(c) for c in frame.columns]
    frame.columns = names
    cols = columns_of(frame, names)
    features = [c for c in names if c != "prediction"]
    preds = cols.get("prediction")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(frame), size=n).tolist()
    times_us = np.round(np.cumsum(rng.exponential(1.0 / rate, size=n)) * 1e6).astype(np.int64).tolist()
    for i, (row, us) in enumerate(zip(rows, times_us, strict=True)):
        try:
            ev = PredictionEvent(
                model=model, model_version="reference", prediction_id=f"r{i}",
                event_time=T0 + timedelta(microseconds=us),
                features={f: cols[f][row] for f in features},
                prediction=None if preds is None else preds[row],
            )  # fmt: skip
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{path}: row {row + 1} is not a valid event: {where}: {err['msg']}") from None
        yield Located(ev, Coord("reference", 0, i))


def _kafka_events(settings: Settings, model: str, offsets: list[str]) -> list[Located]:
    """The model's prediction and feature events in the ``offsets`` ranges, decoded as a replay
    decodes them; several ranges are merged by event time."""
    import asyncio

    from glasswatch.commands.replay import parse_range
    from glasswatch.ingest.validate import Limits, decode
    from glasswatch.kafka.reader import read_range
    from glasswatch.monitor.windows import Located
    from glasswatch.schemas.events import EPOCH, LabelEvent

    ranges = [parse_range(o) for o in offsets]
    past = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)
    events: list[Located] = []
    for topic, partition, first, last in ranges:
        msgs = asyncio.run(read_range(settings.kafka.bootstrap, topic, partition, first, last))
        kept, rejected = 0, 0
        for m in msgs:
            decoded = decode(m.value, now=EPOCH, limits=past, tick_check=lambda _tick: False)
            rejected += sum(r.reason != "forged_tick" for r in decoded.rejects)
            for ev in decoded.events:
                if ev.model == model and not isinstance(ev, LabelEvent):
                    events.append(Located(ev, m.coord))
                    kept += 1
        typer.echo(
            printable(f"read {topic}[{partition}] {first}-{last}: {len(msgs)} messages, {kept} events "
                      f"of {model}, {rejected} rejected"), err=True,
        )  # fmt: skip
    if len(ranges) > 1:
        events.sort(key=lambda r: r.event.event_time)
    return events


def _line(f: FamilyCalibration) -> str:
    verdict = "" if f.met else "  (target NOT met: even the strictest value searched alarms more)"
    return (
        f"{f.family}: {f.param} {f.current:g} -> {f.value:g}: {f.per_100k:.3g} false alarms per 100k "
        f"events (target {f.target_per_100k:.3g}; {f.current_per_100k:.3g} at {f.current:g}){verdict}"
    )


def _header(result: SpecCalibration, source: str) -> str:
    lines = [
        f"calibrated by glasswatch calibrate on {result.events:,} clean events ({source}),",
        f"{result.windows} closed windows; budget {result.target_per_100k:g} false alarms per 100k events:",
    ]
    lines += [_line(f) for f in result.families.values()]
    return "\n".join(lines)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {printable(str(exc))}", err=True)
    return typer.Exit(2)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``calibrate`` to ``app``."""

    @app.command("calibrate", help=_HELP)
    def calibrate(
        model: Annotated[str, typer.Argument(help="The model whose spec to calibrate.")],
        offsets: Annotated[
            list[str],
            typer.Option(
                "--offsets", help="Clean history from Kafka: TOPIC:PARTITION:FIRST-LAST (repeatable)."
            ),
        ] = [],  # noqa: B006
        from_reference: Annotated[
            Path | None,
            typer.Option(
                "--from-reference",
                help="Clean history from reference rows: a CSV or parquet file of "
                "feature columns (and optionally 'prediction'), bootstrapped into a stream.",
            ),
        ] = None,
        spec_file: Annotated[
            Path | None,
            typer.Option(
                "--spec", help="Start from MODEL's spec in this YAML file (default: the default spec)."
            ),
        ] = None,
        budget: Annotated[
            float,
            typer.Option(
                "--false-alarms-per-100k",
                min=0.0,
                help="False alarms per 100,000 events the model may "
                "raise on the clean history, split equally over the spec's rule families.",
            ),
        ] = 1.0,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the calibrated spec here (default: print it).")
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the reference bootstrap.")] = 0,
        rate: Annotated[
            float, typer.Option("--rate", min=0.001, help="With --from-reference: events per second.")
        ] = 100.0,
        events: Annotated[
            int, typer.Option("--events", min=1, help="With --from-reference: events to bootstrap.")
        ] = 200_000,
        iterations: Annotated[
            int, typer.Option("--iterations", min=1, max=30, help="Bisection steps per family.")
        ] = 8,
    ) -> None:
        from glasswatch.monitor.calibration import calibrate_spec, enabled_families

        try:
            if (len(offsets) > 0) == (from_reference is not None):
                raise ConfigError("give exactly one clean history: --offsets TOPIC:PARTITION:FIRST-LAST "
                                  "(repeatable) or --from-reference FILE")  # fmt: skip
            spec = _load_spec(spec_file, model)
            if not enabled_families(spec):
                raise ConfigError(f"the spec of {model!r} has no learned band or drift detector to calibrate")
            if from_reference is not None:
                stream: Any = _reference_events(from_reference, model=model, n=events, rate=rate, seed=seed)
                source = f"{from_reference.name} bootstrapped, seed {seed}, {rate:g} events/s"
            else:
                stream = _kafka_events(settings(), model, offsets)
                source = ", ".join(offsets)

            def progress(f: FamilyCalibration) -> None:
                typer.echo(printable(_line(f)), err=True)

            result = calibrate_spec(spec, stream, false_alarms_per_100k=budget, iterations=iterations,
                                    progress=progress)  # fmt: skip
        except (ConfigError, BrokerError) as exc:
            raise _fail(exc) from exc
        per_family = budget / len(result.families)
        if 0 < per_family < 1e5 / result.events:
            typer.echo(
                f"note: one false alarm in {result.events:,} events is {1e5 / result.events:.3g} per 100k, "
                f"more than a family's share ({per_family:.3g}): each family got the least conservative "
                f"value with no false alarm at all, which may alarm more on a longer history "
                f"(at least {math.ceil(1e5 / per_family):,} events resolve the target)", err=True,
            )  # fmt: skip
        text = spec_yaml(result.calibrated_spec(), _header(result, source))
        if out is None:
            typer.echo(text, nl=False)
            return
        try:
            out.write_text(text)
        except OSError as exc:
            raise _fail(ConfigError(f"{out}: cannot write: {exc.strerror}")) from exc
        typer.echo(f"wrote the calibrated spec of {printable(model)} to {out}", err=True)
