"""``glasswatch routes check FILE``: validate a routing YAML and print its route tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from glasswatch.errors import ConfigError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings

__all__ = ["register"]


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach the ``routes`` group to ``app`` (it needs no settings)."""
    routes = typer.Typer(help="Alert routing configuration.", no_args_is_help=True)
    app.add_typer(routes, name="routes")

    @routes.command("check")
    def routes_check(file: Path) -> None:
        """Validate a routing YAML and print the route tree."""
        from glasswatch.alerting.routes import load_routing_file

        try:
            config = load_routing_file(file)
        except ConfigError as exc:
            typer.echo(printable(f"error: {exc}"), err=True)
            raise typer.Exit(1) from None
        typer.echo(config.route.render())
        typer.echo(printable("receivers: " + ", ".join(f"{r.name} ({r.kind})" for r in config.receivers)))
        typer.echo(f"inhibit rules: {len(config.inhibit_rules)}")
