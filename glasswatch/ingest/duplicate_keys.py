"""Duplicate keys in a JSON object: proved absent cheaply, or found exactly.

JSON parsers keep the last value of a repeated key silently, so ``{"model": "a", ..., "model":
"b"}`` could mean either; :func:`glasswatch.ingest.validate.decode` refuses such a message (or
batch item) as ``invalid`` (``DuplicateKey``).

* The fast path proves their absence with :func:`no_duplicate_keys`: the ``":`` count of the text
  (whitespace deleted) equals the keys of the validated events (:func:`keys_of`).
* The careful path calls :func:`mark_duplicates` on the parsed document: when the keys in the
  text outnumber those in the document, the text is parsed again and every object with a
  repeated key (or holding such an object) becomes a :class:`Duplicated`.

Examples
--------
>>> import orjson
>>> raw = b'{"type": "batch", "events": [{"a": 1}, {"a": 1, "a": 2}]}'
>>> doc = mark_duplicates(raw, orjson.loads(raw))
>>> [isinstance(item, Duplicated) for item in doc["events"]]
[False, True]
>>> doc["events"][1].reject(1).detail
"duplicate key 'a' in one JSON object"
>>> no_duplicate_keys(b'{"a": 1, "b": {"c": 2}}', 3), no_duplicate_keys(b'{"a":1,"a":2}', 1)
(True, False)
"""

from __future__ import annotations

import json
import re
from typing import Any

from glasswatch.ingest.reject import Reject
from glasswatch.ingest.scan import blank_strings
from glasswatch.schemas.events import FeatureEvent, PredictionEvent, TypedEvent

__all__ = ["Duplicated", "keys_of", "mark_duplicates", "no_duplicate_keys"]


def keys_of(event: TypedEvent) -> int:
    """How many keys the JSON of ``event`` had, if none was repeated (extra keys are refused)."""
    n = len(event.model_fields_set)
    if isinstance(event, PredictionEvent):
        n += len(event.features or ()) + len(event.probabilities or ()) + len(event.tags)
    elif isinstance(event, FeatureEvent):
        n += len(event.features)
    return n


_WHITESPACE = b" \t\r\n"
_SPACES = tuple(bytes([c]) for c in _WHITESPACE)


def no_duplicate_keys(raw: bytes, keys: int) -> bool:
    """True when ``raw`` (valid JSON whose objects hold ``keys`` distinct keys) repeats no key.

    With whitespace deleted, every key ends in ``":``, and string contents can only add
    occurrences: so ``count('":') == keys`` proves that no key was repeated (a duplicate makes the
    count larger). Otherwise the careful path decides, exactly. Cost: two C passes over the bytes.

    ``raw`` without any whitespace (compact JSON, as orjson writes it) is counted as it is: four
    ``memchr`` scans instead of a copy (issue 14; 0.2 against 0.56 µs per event of an envelope).
    """
    if not any(c in raw for c in _SPACES):
        return raw.count(b'":') == keys
    return raw.translate(None, _WHITESPACE).count(b'":') == keys


class Duplicated(dict[str, Any]):
    """An object (or one holding such an object) in which a key appears twice.

    >>> d = Duplicated({"model": "b"})
    >>> d.key = "model"
    >>> r = d.reject(2)
    >>> r.reason, r.error_class, r.detail, r.index
    ('invalid', 'DuplicateKey', "duplicate key 'model' in one JSON object", 2)
    """

    key: str = ""

    def reject(self, index: int | None) -> Reject:
        return Reject("invalid", "DuplicateKey", f"duplicate key {self.key!r} in one JSON object", index)


def mark_duplicates(raw: bytes, doc: Any) -> Any:
    """``doc`` (``raw`` parsed), or, when ``raw`` repeats a key, ``raw`` parsed again with each
    object that repeats a key (or holds one that does) a :class:`Duplicated`."""
    if _keys_in_text(raw) == _keys_in_doc(doc):
        return doc
    return _marking_duplicates(raw)


def _keys_in_text(raw: bytes) -> int:
    """Keys in the JSON text ``raw`` (exact: string contents are blanked first)."""
    blank = blank_strings(raw.decode("utf-8"))
    return len(re.findall(r'""\s*:', blank))


def _keys_in_doc(doc: Any) -> int:
    """Keys of every object in ``doc`` (an explicit stack: no recursion)."""
    n, stack = 0, [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            n += len(node)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return n


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: the object, marked when a key repeats in it or in an object value."""
    out: dict[str, Any] = dict(pairs)
    dup: str | None = None
    if len(out) < len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                dup = k
                break
            seen.add(k)
    else:
        dup = next((f"{k}.{v.key}" for k, v in pairs if isinstance(v, Duplicated)), None)
    if dup is None:
        return out
    marked = Duplicated(out)
    marked.key = dup
    return marked


def _marking_duplicates(raw: bytes) -> Any:
    """``raw`` parsed again, each object with a repeated key (or holding one) a :class:`Duplicated`.

    Only called once orjson parsed ``raw``, so its nesting is at most
    :data:`~glasswatch.ingest.scan.MAX_DEPTH`; the stdlib parser (C, recursive) may still hit the
    interpreter's recursion limit there, and such a message is marked as a whole (no valid event
    nests more than four levels).
    """
    try:
        return json.loads(raw, object_pairs_hook=_pairs)
    except RecursionError:
        marked = Duplicated()
        marked.key = "(nesting too deep to locate)"
        return marked
