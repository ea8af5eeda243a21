"""``glasswatch dlq show``: the dead letters by reason, with samples."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import typer

from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

__all__ = ["read_topic_json", "register", "render_letters"]


async def read_topic_json(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Every JSON value of ``topic`` from the beginning to its end *now*, in partition order.

    The dead letters here; the demo, the worker's alert pages and the tests read the alerts
    topic with it too.
    """
    from glasswatch.kafka.reader import read_topic

    return [json.loads(m.value) for m in await read_topic(bootstrap, topic, timeout_s=timeout_s) if m.value]


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach the ``dlq`` group to ``app``."""
    dlq = typer.Typer(help="Inspect the dead-letter topic.", no_args_is_help=True)
    app.add_typer(dlq, name="dlq")

    @dlq.command("show")
    def dlq_show(
        limit: int = typer.Option(5, help="Sample dead letters printed per reason."),
        as_json: bool = typer.Option(False, "--json", help="Print every dead letter as JSON lines."),
    ) -> None:
        """Dead letters by reason, with samples (source topic/partition/offset and the reason)."""
        s = settings()
        try:
            letters = asyncio.run(read_topic_json(s.kafka.bootstrap, s.topics.dead_letters))
        except Exception as exc:
            typer.echo(f"error: cannot read {s.topics.dead_letters} at {s.kafka.bootstrap}: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            for d in letters:
                sys.stdout.write(json.dumps(d) + "\n")
            return
        typer.echo(render_letters(letters, s.topics.dead_letters, limit))


def render_letters(letters: list[dict[str, Any]], topic: str, limit: int = 5) -> str:
    """The ``dlq show`` text: refused events by reason (a batch letter counts each refused item
    under its own reason), then up to ``limit`` samples per reason with their coordinates.

    >>> letter = {"reason": "wrong_type", "detail": "2 item(s) of the batch refused",
    ...           "source_topic": "p", "source_partition": 0, "source_offset": 8, "rejected": 2,
    ...           "items": [{"reason": "wrong_type", "detail": "x: bad", "indexes": [0, 2]}]}
    >>> print(render_letters([letter], "dlq"))
    1 dead letters (2 refused events) in dlq
      wrong_type: 2
        p[0]@8 items 0, 2: x: bad
    """
    by_reason: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    for d in letters:
        where = f"{d.get('source_topic')}[{d.get('source_partition')}]@{d.get('source_offset')}"
        groups = d.get("items") or []
        if not groups:
            reason = str(d.get("reason"))
            by_reason[reason] += int(d.get("rejected", 1) or 1)
            if d.get("index_in_batch") is not None:  # schema version 1: one letter per item
                where += f" item {d['index_in_batch']}"
            samples.setdefault(reason, []).append(f"{where}: {str(d.get('detail', ''))[:100]}")
            continue
        for g in groups:
            reason, indexes = str(g.get("reason")), list(g.get("indexes") or [])
            by_reason[reason] += max(1, len(indexes))
            shown = ", ".join(map(str, indexes[:5])) + (f" (+{len(indexes) - 5})" if len(indexes) > 5 else "")
            samples.setdefault(reason, []).append(f"{where} items {shown}: {str(g.get('detail', ''))[:100]}")
    lines = [f"{len(letters)} dead letters ({sum(by_reason.values())} refused events) in {topic}"]
    for reason, n in by_reason.most_common():
        lines.append(f"  {reason}: {n}")
        lines.extend(f"    {line}" for line in samples.get(reason, [])[:limit])
    # reasons, topics and details come from producers: no control character reaches the terminal
    return "\n".join(printable(line) for line in lines)
