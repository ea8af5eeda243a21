"""``glasswatch status``: the statistics and dead-letter counters of a running worker."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import typer

from glasswatch.errors import BrokerError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

__all__ = ["fetch_stats", "register", "render_stats"]


def fetch_stats(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The JSON snapshot a running worker serves at ``<url>/glasswatch/stats/``."""
    full = url.rstrip("/") + "/glasswatch/stats/"
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as resp:  # noqa: S310 (local URL by design)
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise BrokerError(
            f"no glasswatch worker answered at {full} ({exc}); start one with 'glasswatch worker'"
        ) from exc


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return printable(str(v))


def render_stats(snap: dict[str, Any]) -> str:
    """The snapshot as text: counters, then one aligned table of feature statistics per model.

    Names, categories and reasons come from producers: control characters are shown escaped
    (:func:`~glasswatch.schemas.text.printable`), never sent to the terminal.
    """
    out = [
        f"accepted events: {_fmt(snap['accepted'])}    dead-lettered: {_fmt(snap['rejected'])}",
    ]
    if snap["rejects"]:
        out.append(
            "dead letters by reason: "
            + ", ".join(f"{printable(str(k))}={_fmt(v)}" for k, v in sorted(snap["rejects"].items()))
        )
    for model, m in snap["models"].items():
        out.append("")
        versions = ", ".join(f"v{printable(str(k))}: {_fmt(v)}" for k, v in m["versions"].items())
        events = "{" + ", ".join(f"'{printable(str(k))}': {_fmt(v)}" for k, v in m["events"].items()) + "}"
        out.append(f"model {printable(str(model))}   events {events}   versions {versions}")
        cols = [
            "feature",
            "count",
            "missing%",
            "mean",
            "std",
            "min",
            "p05",
            "p50",
            "p95",
            "max",
            "top categories",
        ]
        rows = [cols]
        for fname, f in m["features"].items():
            cats = ", ".join(
                f"{printable(str(k))}:{_fmt(v)}" for k, v in list(f.get("categories", {}).items())[:3]
            )
            rows.append(
                [
                    printable(str(fname)),
                    _fmt(f["count"]),
                    f"{100 * f['missing_rate']:.1f}",
                    _fmt(f["mean"]),
                    _fmt(f["std"]),
                    _fmt(f["min"]),
                    _fmt(f.get("p05")),
                    _fmt(f.get("p50")),
                    _fmt(f.get("p95")),
                    _fmt(f["max"]),
                    cats,
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``status`` to ``app``."""

    @app.command()
    def status(
        url: str = typer.Option(
            "", help="Worker URL (default: http://127.0.0.1:<GLASSWATCH_WORKER__WEB_PORT>)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the raw JSON snapshot."),
    ) -> None:
        """Show the statistics and dead-letter counters kept by a running worker."""
        s = settings()
        try:
            snap = fetch_stats(url or f"http://127.0.0.1:{s.worker.web_port}")
        except BrokerError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            json.dump(snap, sys.stdout, indent=2, sort_keys=True)
            sys.stdout.write("\n")
        else:
            typer.echo(render_stats(snap))
