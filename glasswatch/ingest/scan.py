"""Why orjson refused a message, found by linear scans of its text: no recursion, no backtracking.

:func:`classify_unparsable` names the reason for bytes orjson cannot parse: ``bad_utf8``
(undecodable bytes, or a lone ``\\ud800`` surrogate escape inside a string), ``invalid``
(nesting deeper than :data:`MAX_DEPTH`, measured on the text), ``non_finite`` (``NaN`` or
``Infinity`` outside strings), ``out_of_range`` (a number literal beyond float64), else
``not_json``. :func:`clamp_huge_numbers` rescues a message whose only fault is such a number, so
that the careful path of :func:`glasswatch.ingest.validate.decode` refuses just the items that
hold one. :func:`blank_strings` is the shared first step: every string token becomes ``""``.

Examples
--------
>>> import orjson
>>> def why(raw):
...     try:
...         orjson.loads(raw)
...     except orjson.JSONDecodeError as exc:
...         return classify_unparsable(raw, exc).reason
>>> why(b'{"p": NaN}'), why(b'{"p": 1e400}'), why(b'{"s": "\\\\ud800"}'), why(b'{"p": 1')
('non_finite', 'out_of_range', 'bad_utf8', 'not_json')
>>> why(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
'invalid'
>>> clamp_huge_numbers(b'{"p": 1e400, "s": "1e400"}')
(b'{"p": 1e300, "s": "1e400"}', {'p': 1e+300, 's': '1e400'})
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import orjson

from glasswatch.ingest.reject import Reject

__all__ = ["MAX_DEPTH", "blank_strings", "clamp_huge_numbers", "classify_unparsable"]

MAX_DEPTH = 1024
"""Deepest nesting of arrays and objects the parser follows (orjson's own limit); deeper is
``invalid`` without any recursion. A valid message nests at most four levels."""

# Every pattern below runs on hostile text of up to 900 kB, so each is linear: possessive
# quantifiers (no backtracking) and look-behinds that let a match start only where a token starts.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
"""A JSON string token; an unterminated one runs to the end of the text."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NON_FINITE = re.compile(r"(?<![\w.])(?:[-+]?Infinity|NaN)(?![\w.])")
_HUGE_NUMBER = re.compile(
    r"(?<![\w.+-])-?(?:[0-9]++(?:\.[0-9]++)?[eE]\+?[0-9]{3,}+"
    r"|[0-9]{300,}+(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?)"
)
"""Candidates for a number literal beyond float64 (orjson: "number is infinity")."""
_SURROGATE = re.compile(
    r"(?<!\\)(\\++)u([dD][89abAB][0-9a-fA-F]{2})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?"
    r"|(?<!\\)(\\++)u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def blank_strings(text: str) -> str:
    """``text`` with every JSON string token (also an unterminated last one) replaced by ``""``.

    >>> blank_strings('{"a": "x,]}", "b": 1, "c": "open')
    '{"": "", "": 1, "": ""'
    """
    return _STRING.sub('""', text)


def _depth(blank: str) -> int:
    """Deepest nesting of ``[``/``{`` in ``blank`` (strings blanked): vectorised, no recursion."""
    brackets = _NOT_BRACKET.sub("", blank).encode("ascii")
    if not brackets:
        return 0
    a = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((a == ord("[")) | (a == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _huge(m: re.Match[str]) -> str:
    return "0" if math.isinf(float(m.group())) else m.group()


def _lone(m: re.Match[str]) -> str:
    """A lone surrogate escape becomes ``\\u0020``; an escaped backslash or a pair stays."""
    slashes = m.group(1) or m.group(4)
    if len(slashes) % 2 == 0 or (m.group(1) and m.group(3)):
        return m.group()
    return slashes[:-1] + "\\u0020"


_STRING_OR_HUGE = re.compile(f"(?:{_STRING.pattern})|({_HUGE_NUMBER.pattern})")


def _clamp(m: re.Match[str]) -> str:
    if m.group(1) is None or not math.isinf(float(m.group(1))):
        return m.group()
    return "-1e300" if m.group(1).startswith("-") else "1e300"


def clamp_huge_numbers(raw: bytes) -> tuple[bytes, Any] | None:
    """``raw`` with each number beyond float64 (outside strings) replaced by ``±1e300`` — still
    out of range, so the event holding it is refused as ``out_of_range`` while the rest of a batch
    is judged item by item — and parsed; ``None`` when that does not make it parse."""
    if b"e" not in raw and b"E" not in raw and len(raw) < 300:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    clamped = _STRING_OR_HUGE.sub(_clamp, text)
    if clamped == text:
        return None
    try:
        return clamped.encode(), orjson.loads(clamped)
    except orjson.JSONDecodeError:
        return None


def classify_unparsable(raw: bytes, exc: Exception) -> Reject:
    """Name the reason orjson refused ``raw`` (its error ``exc``), without recursion.

    Nesting deeper than :data:`MAX_DEPTH` is measured on the text. Otherwise each suspect found
    outside strings (``NaN``/``Infinity``, a number beyond float64) or inside one (a lone
    surrogate escape) is neutralised and the text parsed again by orjson: if it parses now, the
    suspect is the reason, else ``not_json``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return Reject("bad_utf8", "UnicodeDecodeError", str(uexc))
    blank = blank_strings(text)
    depth = _depth(blank)
    if depth > MAX_DEPTH:
        return Reject("invalid", "NestingTooDeep", f"nesting {depth} levels deep > limit {MAX_DEPTH}")
    found: list[Reject] = []
    fixed = text
    if _NON_FINITE.search(blank):
        found.append(Reject("non_finite", "NonFiniteNumber", "NaN or Infinity is not a valid JSON number"))
        fixed = _NON_FINITE.sub("0", fixed)
    if ("e" in blank or "E" in blank or len(blank) > 300) and _HUGE_NUMBER.sub(_huge, blank) != blank:
        detail = "a number beyond the float64 range (the contract allows |x| <= 1e100)"
        found.append(Reject("out_of_range", "NumberOutOfRange", detail))
        fixed = _HUGE_NUMBER.sub(_huge, fixed)
    if "\\u" in fixed:
        paired = _SURROGATE.sub(_lone, fixed)
        if paired != fixed:
            detail = "a lone surrogate escape (e.g. \\ud800) encodes no Unicode character"
            found.append(Reject("bad_utf8", "LoneSurrogate", detail))
            fixed = paired
    if found:
        try:
            orjson.loads(fixed)
        except orjson.JSONDecodeError:
            pass
        else:
            return found[0]
    return Reject("not_json", "JSONDecodeError", str(exc))
