"""``glasswatch schemas export``: the event contracts as JSON Schema files.

The files are what producers in other languages validate against, so they must give the worker's
verdict: pydantic's JSON Schema is completed where it says less than the worker checks
(:func:`contract_schemas`), and ``tests/unit/schemas/test_schema_export.py`` compares a standard
validator's verdict with :func:`~glasswatch.ingest.validate.decode`'s on generated events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import TypeAdapter

from glasswatch.settings import Settings

__all__ = ["DRAFT", "STATIC_LIMITS", "contract_schemas", "export_schemas", "register", "schema_file"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
STATIC_LIMITS = (
    "The worker also refuses what no static schema can express: an event_time outside its "
    "clock-skew window (by default more than 1 h ahead of or 7 days behind the worker's clock; "
    "reason clock_skew), a message larger than 900 kB (oversize), an object with a duplicate key "
    "(invalid) and a calendar date that does not exist, such as February 30 (a validator that "
    "asserts 'format: date-time' refuses it too)."
)
"""Appended to the description of every event contract."""

_EVENT_CONTRACTS = ("PredictionEvent", "FeatureEvent", "LabelEvent", "BatchEnvelope")


def contract_schemas() -> dict[str, dict[str, Any]]:
    """File stem → JSON Schema (draft 2020-12) of every exported contract.

    ``Message`` is any message a producer may send (a prediction, feature, label or batch, told
    apart by ``type``). Beyond pydantic's output: ``type`` is required (the worker refuses a
    message without it), a name dictionary (features, probabilities, tags) refuses keys outside
    its pattern (``additionalProperties: false`` beside ``patternProperties``, and the pattern
    repeated in ``propertyNames`` so a validator names the bad key), and no ``$``-anchored
    pattern lets a trailing newline through (Python's ``re`` lets ``$`` match before one).

    Feature and class names follow :data:`~glasswatch.schemas.events.FEATURE_NAME_PATTERN`:
    printable Unicode, spaces inside; a validator must read patterns as Unicode (code points,
    ECMA-262's ``u`` flag), as Python's ``re`` does.

    >>> s = contract_schemas()["PredictionEvent"]
    >>> s["properties"]["latency_ms"]["anyOf"][1]
    {'maximum': 1e+100, 'minimum': 0.0, 'type': 'number'}
    >>> s["properties"]["tags"]["additionalProperties"], "type" in s["required"]
    (False, True)
    >>> s["properties"]["tags"]["propertyNames"]["pattern"]
    '^[A-Za-z0-9_.:\\\\-/]+$'
    """
    from glasswatch.schemas import Alert, BatchEnvelope, DeadLetter, FeatureEvent, LabelEvent, PredictionEvent
    from glasswatch.schemas.events import Message

    message = TypeAdapter(Message).json_schema()
    message["title"] = "Message"
    message["description"] = (
        "Any message a producer may send to an input topic: one prediction, feature or label "
        "event, or a batch envelope of them (told apart by 'type')."
    )
    out: dict[str, dict[str, Any]] = {}
    from glasswatch.schemas.baseline_accept import BaselineAccept
    from glasswatch.schemas.explanation import AttributionWindow, Explanation

    for model in (PredictionEvent, FeatureEvent, LabelEvent, BatchEnvelope, Alert, DeadLetter,
                  Explanation, AttributionWindow, BaselineAccept):
        out[model.__name__] = model.model_json_schema()
    out["Message"] = message
    for name, schema in out.items():
        _complete(schema)
        if name in _EVENT_CONTRACTS or name == "Message":
            schema["description"] = f"{schema.get('description', '').strip()}\n\n{STATIC_LIMITS}".strip()
        schema["$schema"] = DRAFT
        schema["$id"] = f"glasswatch/{schema_file(name)}"
    return out


def schema_file(name: str) -> str:
    """``<Contract>.v<N>.schema.json``, N the contract's schema version (dead letters are at 2)."""
    from glasswatch.schemas import dead_letter

    version = dead_letter.SCHEMA_VERSION if name == "DeadLetter" else 1
    return f"{name}.v{version}.schema.json"


def _complete(node: Any) -> None:
    """Complete pydantic's JSON Schema in place (see :func:`contract_schemas`)."""
    if isinstance(node, list):
        for item in node:
            _complete(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("title") in _EVENT_CONTRACTS and "const" in node.get("properties", {}).get("type", {}):
        node["required"] = sorted({*node.get("required", ()), "type"})
    if "patternProperties" in node:
        node.setdefault("additionalProperties", False)
        names = node.setdefault("propertyNames", {})
        names["not"] = {"pattern": "\\n"}
        if len(node["patternProperties"]) == 1:
            names.setdefault("pattern", next(iter(node["patternProperties"])))
    pattern = node.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$") and "not" not in node:
        node["not"] = {"pattern": "\\n"}
    for value in node.values():
        _complete(value)


def export_schemas(directory: Path) -> list[Path]:
    """Write one ``<Contract>.v<N>.schema.json`` per contract into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in contract_schemas().items():
        path = directory / schema_file(name)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach the ``schemas`` group to ``app`` (it needs no settings)."""
    schemas = typer.Typer(help="Event contracts as JSON Schema.", no_args_is_help=True)
    app.add_typer(schemas, name="schemas")

    @schemas.command("export")
    def schemas_export(
        directory: Path = typer.Argument(..., help="Folder to write *.schema.json into."),
    ) -> None:
        """Write the JSON Schemas of every contract, so services in any language can validate."""
        for p in export_schemas(directory):
            typer.echo(str(p))
