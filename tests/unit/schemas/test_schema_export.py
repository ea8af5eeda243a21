"""The exported JSON Schema gives the worker's verdict (a differential test).

For generated messages — valid events and mutated ones (wrong types, out-of-range numbers, bad
names, negative latency, probability 1.5, extra and missing fields, bad times, batches) — a
standard Draft 2020-12 validator with format checking on ``Message.v1.schema.json`` accepts
exactly what :func:`~glasswatch.ingest.validate.decode` accepts. Left out, as the export's
description says: the clock-skew window (the worker is given limits wide enough to never apply),
duplicate keys (messages are generated as dicts), calendar-impossible dates such as February 30
(only a validator asserting ``format: date-time`` with an RFC 3339 checker sees them) and the
message size limit.

Feature and class names are generated as real data sets spell them (``mean radius``, ``a:b``,
any script, emoji; as ``\\u`` escapes or as UTF-8) next to names the contract refuses (edge
whitespace, controls, bidi overrides, lone surrogates, 129 characters); model names and tag keys
stay identifiers.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasswatch.commands.schemas import STATIC_LIMITS, contract_schemas, export_schemas
from glasswatch.ingest.validate import Limits, decode
from glasswatch.schemas.events import NAME_PATTERN

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WIDE = Limits(max_clock_skew_s=1e15, max_age_s=1e15)
"""The clock-skew rule is the one a static schema cannot know: out of the comparison."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("schemas")
    paths = export_schemas(folder)
    return {p.name.split(".v")[0]: json.loads(p.read_text()) for p in paths}  # <Name>.v<N>.schema.json


@pytest.fixture(scope="module")
def validator(exported: dict[str, dict[str, Any]]) -> jsonschema.Draft202012Validator:
    schema = exported["Message"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _walk(node: Any) -> list[dict[str, Any]]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            out.append(n)
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


def test_export_writes_every_contract_as_valid_draft_2020_12(exported: dict[str, dict[str, Any]]) -> None:
    assert set(exported) == {
        "PredictionEvent",
        "FeatureEvent",
        "LabelEvent",
        "BatchEnvelope",
        "Message",
        "Alert",
        "DeadLetter",
        "Explanation",
        "AttributionWindow",
        "BaselineAccept",
    }
    for name, schema in exported.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
    assert exported == json.loads(json.dumps(contract_schemas()))


def test_export_uses_json_schema_keywords_only(exported: dict[str, dict[str, Any]]) -> None:
    """``ge``/``le`` are pydantic's words; a JSON Schema validator ignores them."""
    for name, schema in exported.items():
        for node in _walk(schema):
            props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
            keys = set(node) - {"properties", "$defs"} if props else set(node)
            assert not keys & {"ge", "le", "gt", "lt"}, (name, node)
            if "patternProperties" in node:
                assert node["additionalProperties"] is False, (name, node)


def test_export_carries_the_ranges_and_the_time_format(exported: dict[str, dict[str, Any]]) -> None:
    pred = exported["PredictionEvent"]
    props = pred["properties"]
    assert {"type": "number", "minimum": 0.0, "maximum": 1e100} in props["latency_ms"]["anyOf"]
    probability = props["probabilities"]["anyOf"][0]["patternProperties"]
    assert {"type": "number", "minimum": 0.0, "maximum": 1.0} in next(iter(probability.values()))["anyOf"]
    numbers = next(iter(props["features"]["anyOf"][0]["patternProperties"].values()))["anyOf"]
    assert {"type": "number", "minimum": -1e100, "maximum": 1e100} in numbers
    assert {"type": "integer", "minimum": -(10**100), "maximum": 10**100} in numbers
    assert props["event_time"]["format"] == "date-time" and props["event_time"]["pattern"]
    assert "type" in pred["required"]
    for name in ("PredictionEvent", "FeatureEvent", "LabelEvent", "BatchEnvelope", "Message"):
        assert STATIC_LIMITS in exported[name]["description"], name
        assert "clock-skew" in exported[name]["description"]


# -- generated messages -------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z0-9_.:\-/]{1,12}", fullmatch=True)
"""Model names and tag keys: identifiers."""
BAD_NAMES = st.sampled_from(["", "bad name!", "age\n", "x" * 129, "é", "a b", "tab\t", "mean radius"])
REAL_FEATURE_NAMES = [
    "mean radius", "worst concave points", "a:b", "Größe (cm)", "日本語 列", "😀 score", "x<y>&z",
    'say "hi"', "back\\slash", "é" * 128, "😀" * 128, "zero\u200dwidth",
]
FEATURE_NAMES = st.one_of(
    NAMES,
    st.sampled_from(REAL_FEATURE_NAMES),
    st.text(min_size=1, max_size=12).map(str.strip).filter(bool),  # printable or not: both verdicts
    st.from_regex(r"[a-z]{1,6} [a-z]{1,6}( \([a-z]{1,3}\))?", fullmatch=True),  # "mean radius (mm)"
)
"""Feature and class names: what real data sets use (spaces, punctuation, any script)."""
BAD_FEATURE_NAMES = st.sampled_from(
    ["", " lead", "trail ", "tab\tinside", "age\n", "x" * 129, "é" * 129, "nul\x00", "del\x7f", "c1\x85",
     "rlo\u202egnp", "lri\u2066x", "lrm\u200e", "line\u2028sep", "nbsp\xa0", "\u3000ideo", "a\ud800",
     "\udfff"]
)
FLOATS = st.floats(min_value=-1e100, max_value=1e100, allow_nan=False, allow_infinity=False)
INTS = st.integers(min_value=-(10**100), max_value=10**100)
NUMBERS = st.one_of(FLOATS, INTS, st.sampled_from([0, -0.0, 1e100, -1e100, 10**100, 5e-324]))
OUT_OF_RANGE = st.sampled_from([1e101, -1e101, 1.7e308, -(10**101), 10**101, 10**400, -(10**400)])
SHORT_TEXT = st.text(max_size=20)
OFFSETS = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-14:00", "+23:59"])
FRACTIONS = st.one_of(st.just(""), st.integers(1, 9).map(lambda n: "." + "7" * n))
BAD_TIMES = st.sampled_from(
    [
        1767225600,
        1767225600.5,
        "1767225600",
        "2026-03-01T11:00:00",
        "2026-03-01 11:00:00Z",
        "2026-03-01T11:00Z",
        "2026-03-01",
        "2026-13-01T00:00:00Z",
        "2026-03-01T24:00:00Z",
        "2026-03-01T11:00:60Z",
        "2026-03-01T11:00:00+24:00",
        "2026-03-01T11:00:00+0100",
        "0000-01-01T00:00:00Z",
        "2026-03-01T11:00:00Z\n",
        "2026-03-01T11:00:00.1234567890Z",
        None,
        True,
        [],
    ]
)
WRONG_VALUES = st.sampled_from([None, True, False, 1, -1.5, "x", "", [], {}, [1], {"a": 1}, "y" * 1025])


@st.composite
def event_times(draw: st.DrawFn) -> str:
    t = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    return t.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + draw(FRACTIONS) + draw(OFFSETS)


def feature_values() -> st.SearchStrategy[object]:
    return st.one_of(st.booleans(), NUMBERS, SHORT_TEXT, st.none())


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["prediction", "feature", "label"]))
    doc: dict[str, Any] = {
        "type": kind,
        "model": draw(NAMES),
        "prediction_id": draw(st.text(min_size=1, max_size=20)),
        "event_time": draw(event_times()),
    }
    if draw(st.booleans()):
        doc["schema_version"] = 1
    features = st.dictionaries(FEATURE_NAMES, feature_values(), max_size=5)
    if kind == "prediction":
        doc["model_version"] = draw(st.text(min_size=1, max_size=8))
        optional: dict[str, st.SearchStrategy[Any]] = {
            "features": st.one_of(st.none(), features),
            "prediction": st.one_of(st.none(), NUMBERS, SHORT_TEXT),
            "probabilities": st.one_of(
                st.none(),
                st.dictionaries(FEATURE_NAMES, st.one_of(st.floats(0.0, 1.0), st.integers(0, 1)), max_size=3),
            ),
            "latency_ms": st.one_of(st.none(), st.floats(0.0, 1e100), st.integers(0, 10**100)),
            "tags": st.dictionaries(NAMES, SHORT_TEXT, max_size=3),
        }
        for name, strategy in optional.items():
            if draw(st.booleans()):
                doc[name] = draw(strategy)
    elif kind == "feature":
        doc["features"] = draw(features)
    else:
        doc["label"] = draw(st.one_of(NUMBERS, SHORT_TEXT))
    return doc


NUMERIC_PATHS = {
    "prediction": [("prediction",), ("latency_ms",), ("features", "x"), ("probabilities", "1")],
    "feature": [("features", "x")],
    "label": [("label",)],
}


def _set(doc: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for key in path[:-1]:
        if not isinstance(doc.get(key), dict):
            doc[key] = {}
        doc = doc[key]
    doc[path[-1]] = value


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(valid_events())
    fields = [*sorted(doc), "model_version", "features", "latency_ms", "probabilities", "tags", "extra"]
    for _ in range(draw(st.integers(1, 2))):
        how = draw(
            st.sampled_from(
                [
                    "drop",
                    "extra",
                    "wrong",
                    "range",
                    "latency",
                    "probability",
                    "name",
                    "time",
                    "header",
                    "long",
                ]
            )
        )
        if how == "drop":
            doc.pop(draw(st.sampled_from(fields)), None)
        elif how == "extra":
            doc[draw(st.sampled_from(["surprise", "schema", "Type", "events"]))] = draw(WRONG_VALUES)
        elif how == "wrong":
            doc[draw(st.sampled_from(fields))] = draw(WRONG_VALUES)
        elif how == "range":
            path = draw(st.sampled_from(NUMERIC_PATHS.get(str(doc.get("type")), [("label",)])))
            _set(doc, path, draw(st.one_of(OUT_OF_RANGE, NUMBERS)))
        elif how == "latency":
            doc["latency_ms"] = draw(st.sampled_from([-5, -0.5, -1e-300, -0.0, 0, 3.5, -(10**100)]))
        elif how == "probability":
            _set(
                doc,
                ("probabilities", draw(FEATURE_NAMES)),
                draw(st.sampled_from([1.5, -0.1, 1, 0, True, 2, 1.0000001])),
            )
        elif how == "name":
            where = draw(st.sampled_from(["model", "features", "probabilities", "tags"]))
            if where == "model":
                doc["model"] = draw(st.one_of(BAD_NAMES, FEATURE_NAMES))  # a feature name is no model name
            elif where == "tags":
                _set(doc, (where, draw(st.one_of(BAD_NAMES, FEATURE_NAMES))), "v")
            else:
                _set(doc, (where, draw(BAD_FEATURE_NAMES)), 0.5 if where == "probabilities" else "v")
        elif how == "time":
            doc["event_time"] = draw(BAD_TIMES)
        elif how == "header":
            key = draw(st.sampled_from(["type", "schema_version"]))
            pool = (
                ["tick", "batch", "explanation", "", None] if key == "type" else [2, 0, True, 1.0, "1", None]
            )
            doc[key] = draw(st.sampled_from(pool))
        else:
            field = draw(st.sampled_from(["model_version", "prediction_id", "prediction", "model"]))
            doc[field] = "z" * draw(st.sampled_from([64, 65, 128, 129, 1024, 1025]))
    return doc


@st.composite
def messages(draw: st.DrawFn) -> object:
    event = st.one_of(valid_events(), mutated_events())
    if not draw(st.integers(0, 3)):
        envelope: dict[str, Any] = {"type": "batch", "events": draw(st.lists(event, min_size=1, max_size=3))}
        how = draw(st.sampled_from(["none", "none", "empty", "no_type", "extra", "not_list", "version"]))
        if how == "empty":
            envelope["events"] = []
        elif how == "no_type":
            del envelope["type"]
        elif how == "extra":
            envelope["surprise"] = 1
        elif how == "not_list":
            envelope["events"] = envelope["events"][0]
        elif how == "version":
            envelope["schema_version"] = draw(st.sampled_from([1, 2]))
        return envelope
    return draw(event)


def _worker_accepts(raw: bytes) -> bool:
    result = decode(raw, now=NOW, limits=WIDE)
    return bool(result.events) and not result.rejects


def test_schema_verdict_equals_the_worker_verdict(validator: jsonschema.Draft202012Validator) -> None:
    verdicts: Counter[bool] = Counter()
    real_names: Counter[bool] = Counter()

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(doc=messages(), utf8=st.booleans())
    def check(doc: object, utf8: bool) -> None:
        raw = json.dumps(doc).encode()  # non-ASCII names as \u escapes (lone surrogates too)
        if utf8:  # or as UTF-8 bytes, when they are text
            with contextlib.suppress(UnicodeEncodeError):
                raw = json.dumps(doc, ensure_ascii=False).encode()
        schema_ok = validator.is_valid(json.loads(raw))
        worker = decode(raw, now=NOW, limits=WIDE)
        worker_ok = bool(worker.events) and not worker.rejects
        assert schema_ok == worker_ok, (
            raw[:400],
            [(r.reason, r.index, r.detail) for r in worker.rejects],
            [e.message[:200] for e in validator.iter_errors(json.loads(raw))][:3],
        )
        verdicts[worker_ok] += 1
        for e in worker.events:
            names = {*(getattr(e, "features", None) or ()), *(getattr(e, "probabilities", None) or ())}
            real_names.update(re.fullmatch(NAME_PATTERN, n) is None for n in names)

    check()
    assert verdicts[True] >= 60 and verdicts[False] >= 60, verdicts  # both verdicts, often
    assert real_names[True] >= 10, real_names  # accepted names beyond identifiers (spaces, Unicode)


@pytest.mark.parametrize(
    ("patch", "accepted"),
    [
        ({}, True),
        ({"latency_ms": -5}, False),
        ({"probabilities": {"1": 1.5}}, False),
        ({"features": {"bad name!": 1.0}}, True),  # issue 10: real column names, spaces included
        ({"features": {"mean radius": 1.0, "a:b": 2, "Größe (cm)": 3, "日本語 列": 4}}, True),
        ({"probabilities": {"classe é": 0.25, "class 2": 0.75}}, True),
        ({"features": {"bad\tname": 1.0}}, False),
        ({"features": {" lead": 1.0}}, False),
        ({"features": {"rlo\u202egnp": 1.0}}, False),
        ({"probabilities": {"trail ": 0.5}}, False),
        ({"model": "mean radius"}, False),
        ({"tags": {"a b": "v"}}, False),
        ({"features": {"x": 10**400}}, False),
        ({"prediction": 1e101}, False),
        ({"event_time": 1767225600}, False),
        ({"event_time": "1767225600"}, False),
        ({"event_time": "2026-03-01T11:00:00+02:00"}, True),
        ({"surprise": 1}, False),
    ],
)
def test_known_disagreements_of_the_old_export_are_gone(
    validator: jsonschema.Draft202012Validator, patch: dict[str, Any], accepted: bool
) -> None:
    doc = {
        "type": "prediction",
        "model": "m",
        "model_version": "1",
        "prediction_id": "p",
        "event_time": "2026-03-01T11:00:00Z",
        **patch,
    }
    raw = json.dumps(doc).encode()
    assert validator.is_valid(doc) is accepted
    assert _worker_accepts(raw) is accepted


def test_the_schema_says_no_where_only_the_worker_clock_can(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """The clock-skew rule is the documented exception: same doc, schema yes, worker no."""
    doc = {
        "type": "label",
        "model": "m",
        "prediction_id": "p",
        "event_time": "2099-01-01T00:00:00Z",
        "label": 1,
    }
    assert validator.is_valid(doc)
    assert [r.reason for r in decode(json.dumps(doc).encode(), now=NOW).rejects] == ["clock_skew"]


def test_cli_writes_the_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from glasswatch.cli import app

    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "Message.v1.schema.json").exists()
    assert (
        json.loads((tmp_path / "PredictionEvent.v1.schema.json").read_text())
        == contract_schemas()["PredictionEvent"]
    )
