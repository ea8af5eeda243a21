"""``glasswatch simulate``: publish seeded synthetic traffic, malformed messages mixed in."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.settings import Settings

__all__ = ["register", "simulate_traffic"]


async def simulate_traffic(
    settings: Settings,
    *,
    model: str,
    events: int,
    bad: int = 0,
    rate: float | None = None,
    batch_size: int = 500,
    seed: int = 42,
    topic: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    start: datetime | None = None,
    drift: Sequence[str] = (),
    first: int = 0,
    total: int | None = None,
) -> dict[str, int]:
    """Publish ``events`` good events and ``bad`` malformed messages; returns what was sent.

    ``drift``: changes as ``FEATURE:+DELTA@AT[-UNTIL]`` (:meth:`~glasswatch.testing.traffic.Shift.parse`;
    ``ConfigError`` when malformed), fractions taken of ``total`` (default ``events``). To publish
    one stream in parts, give each part the stream's ``start``, ``total`` and its ``first`` index."""
    from glasswatch.client import Publisher
    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
    from glasswatch.testing.traffic import Shift, TrafficGenerator

    try:
        shifts = tuple(Shift.parse(d, total or events) for d in drift)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    await ensure_topics(settings.kafka.bootstrap, glasswatch_topics(settings))
    virtual_rate = rate or 100.0
    now = datetime.now(UTC)
    if start is None:
        start = now if rate else now - timedelta(seconds=events / virtual_rate)
    gen = TrafficGenerator(model=model, seed=seed, start=start, rate_per_s=virtual_rate, shifts=shifts)
    sent = Counter[str]()
    bad_every = max(1, events // bad) if bad else 0
    bad_iter = iter(gen.malformed(bad, settings.validation.max_message_bytes))
    t0 = time.monotonic()
    async with Publisher(
        settings.kafka.bootstrap, topic=topic or settings.topics.predictions, batch_size=batch_size
    ) as pub:
        for i, doc in enumerate(gen.events(events, first)):
            await pub.publish(doc)
            sent["good"] += 1
            if bad_every and i % bad_every == 0 and sent["bad"] < bad:
                kind, raw = next(bad_iter)
                await pub.send_raw(raw, key=model.encode())
                sent["bad"] += 1
                sent[f"bad:{kind}"] += 1
            if rate:
                ahead = (i + 1) / rate - (time.monotonic() - t0)
                if ahead > 0:
                    await pub.flush_buffers()
                    await asyncio.sleep(ahead)
            if progress and (i + 1) % 10_000 == 0:
                progress(i + 1, events)
        for kind, raw in bad_iter:
            await pub.send_raw(raw, key=model.encode())
            sent["bad"] += 1
            sent[f"bad:{kind}"] += 1
        await pub.flush()
        sent["messages"] = pub.sent_messages
    return dict(sent)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``simulate`` to ``app``."""

    @app.command()
    def simulate(
        model: str = typer.Option("demo", help="Model name to publish events for."),
        events: int = typer.Option(10_000, min=0, help="Number of good prediction events."),
        bad: int = typer.Option(0, min=0, help="Number of malformed messages mixed in (every kind in turn)."),
        rate: float = typer.Option(0.0, min=0.0, help="Events per second (0 = as fast as possible)."),
        batch_size: int = typer.Option(500, min=1, help="Events per Kafka message (1 = no batch envelopes)."),
        seed: int = typer.Option(42, help="Seed of the generator: same seed, same events."),
        drift: list[str] = typer.Option(
            [],
            help="Inject a change: FEATURE:+DELTA@AT[-UNTIL], AT/UNTIL an event index or a fraction "
            "of --events (with a dot), e.g. age:+15@0.5 or age:+15@0.4-0.7 (repeatable; features: "
            "age, balance).",
        ),
    ) -> None:
        """Publish realistic synthetic prediction events (seeded) and malformed messages.

        Malformed kinds: not JSON, wrong types, NaN/Infinity, missing fields, oversize, unknown
        schema version, bad UTF-8, unknown event type. Each must end in the dead-letter topic.
        """
        s = settings()

        def progress(done: int, total: int) -> None:
            typer.echo(f"  sent {done}/{total} events", err=True)

        try:
            sent = asyncio.run(
                simulate_traffic(
                    s,
                    model=model,
                    events=events,
                    bad=bad,
                    rate=rate or None,
                    batch_size=batch_size,
                    seed=seed,
                    progress=progress,
                    drift=drift,
                )
            )
        except (BrokerError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(json.dumps(sent, sort_keys=True))
