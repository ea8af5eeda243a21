"""Feature and class names are the names real data sets use (issue 10 item 6).

The rule, stated independently of any regex: 1 to 128 characters that
:func:`~glasswatch.schemas.text.printable` leaves as they are (no control, bidi or separator
character, no lone surrogate) and that ``str.strip`` leaves as they are (no edge whitespace).
The pydantic type (pydantic-core's Rust regex, the worker's fast path) and the exported JSON
Schema pattern (Python ``re`` here) must both give exactly that verdict; the model name stays an
identifier.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from glasswatch.ingest.validate import decode
from glasswatch.schemas.events import (
    FEATURE_NAME_PATTERN,
    MAX_NAME,
    FeatureEvent,
    FeatureName,
    Name,
    PredictionEvent,
)
from glasswatch.schemas.text import printable

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
FEATURE_NAME = TypeAdapter(FeatureName)
MODEL_NAME = TypeAdapter(Name)
JSON_PATTERN = re.compile(FEATURE_NAME_PATTERN)

SPECIALS = [
    " ", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\x9f", "\xa0", "\u1680", "\u2000", "\u200a",
    "\u200b", "\u200d", "\u200e", "\u200f", "\u061c", "\u2028", "\u2029", "\u202a", "\u202e", "\u202f",
    "\u205f", "\u2066", "\u2069", "\u3000", "\ufeff", "\ud800", "\udfff", ":", "<", ">", "&", '"', "\\",
    "é", "\u0301", "日", "😀", "\U0010fffd", "a", "Z", "0", "_", "-", "/", ".", "(", ")", "%", "*", "|",
]
NAMES = st.text(st.one_of(st.characters(), st.sampled_from(SPECIALS)), max_size=12) | st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "é", "😀", " "]), st.integers(MAX_NAME - 1, MAX_NAME + 1)
)


def by_definition(name: str) -> bool:
    return 1 <= len(name) <= MAX_NAME and printable(name) == name and name.strip() == name


def native_accepts(name: str) -> bool:
    try:
        FEATURE_NAME.validate_python(name)
    except pydantic.ValidationError:
        return False
    return True


def json_schema_accepts(name: str) -> bool:
    # what the export says: the pattern, no newline (Python's ``$``), the length in code points
    return 1 <= len(name) <= MAX_NAME and JSON_PATTERN.search(name) is not None and "\n" not in name


@settings(max_examples=1500, deadline=None, database=None)
@given(name=NAMES)
def test_the_native_type_and_the_json_pattern_state_the_same_rule(name: str) -> None:
    expected = by_definition(name)
    assert native_accepts(name) is expected, ascii(name)
    assert json_schema_accepts(name) is expected, ascii(name)


@pytest.mark.parametrize(
    "name",
    ["mean radius", "worst concave points", "a:b", "Größe (cm)", "日本語 列", "😀 score", "x<y>&z",
     'say "hi"', "back\\slash", "é" * MAX_NAME, "a\u200db", "e\u0301"],
)
def test_real_names_are_accepted_everywhere(name: str) -> None:
    assert by_definition(name)
    event = PredictionEvent(model="bc", model_version="1", prediction_id="p", event_time=NOW,
                            features={name: 1.5}, probabilities={name: 0.5})
    raw = event.model_dump_json().encode()
    result = decode(raw, now=NOW)
    assert result.rejects == [] and result.events == [event]
    ensure_ascii = json.dumps(json.loads(raw)).encode()  # the same names as \\u escapes
    assert decode(ensure_ascii, now=NOW).events == [event]


@pytest.mark.parametrize(
    "name",
    ["", " lead", "trail ", "nbsp\xa0", "\u3000ideo", "tab\tinside", "new\nline", "nul\x00", "esc\x1b[2J",
     "del\x7f", "c1\x85", "rlo\u202egnp.exe", "lri\u2066", "lrm\u200e", "line\u2028sep",
     "x" * (MAX_NAME + 1)],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        FeatureEvent(model="bc", prediction_id="p", event_time=NOW, features={name: 1})
    doc = {"type": "feature", "model": "bc", "prediction_id": "p", "event_time": "2026-03-01T11:00:00Z",
           "features": {name: 1}}
    reason = "oversize" if len(name) > MAX_NAME else "invalid"
    assert [r.reason for r in decode(json.dumps(doc).encode(), now=NOW).rejects] == [reason]


def test_a_lone_surrogate_is_refused_as_bad_utf8() -> None:
    raw = b'{"type":"feature","model":"bc","prediction_id":"p","event_time":"2026-03-01T11:00:00Z",' \
          b'"features":{"a\\ud800":1}}'
    assert [r.reason for r in decode(raw, now=NOW).rejects] == ["bad_utf8"]
    assert not native_accepts("a\ud800") and not json_schema_accepts("a\ud800")


@pytest.mark.parametrize("name", ["mean radius", "é", "a<b", "x" * (MAX_NAME + 1)])
def test_the_model_name_and_tag_keys_stay_identifiers(name: str) -> None:
    assert native_accepts(name) is (len(name) <= MAX_NAME)
    with pytest.raises(pydantic.ValidationError):
        MODEL_NAME.validate_python(name)
    with pytest.raises(pydantic.ValidationError):
        PredictionEvent(model="bc", model_version="1", prediction_id="p", event_time=NOW, tags={name: "v"})
