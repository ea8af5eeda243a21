"""Text that a person sees: producer-controlled strings made safe for a terminal or a log line.

Anything a producer writes (categories, ids, model names, reasons, details) may carry control
characters: an ESC sequence that clears the screen or rewrites earlier lines, a carriage return
that hides the start of a line, a bidi override that shows ``exe.txt`` as ``txt.exe``.
:func:`printable` turns every such character into a visible escape; printable text (ASCII and
any other printable Unicode) is left as it is. :func:`decode_utf8` gives configuration loaders
one clear error for a file that is not UTF-8 text.

Examples
--------
>>> printable("\\x1b[2Jgone")
'\\\\x1b[2Jgone'
>>> printable("churn\\u202egnp.exe")
'churn\\\\u202egnp.exe'
>>> printable("a long category name", limit=10)
'a long ca…'
"""

from __future__ import annotations

from glasswatch.errors import ConfigError

__all__ = ["BIDI_CONTROLS", "decode_utf8", "printable"]

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f"  # arabic letter mark, left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides (LRE RLE PDF LRO RLO)
    "\u2066\u2067\u2068\u2069"  # isolates (LRI RLI FSI PDI)
)
"""Characters that reorder what a terminal shows (Trojan Source, CVE-2021-42574)."""

_LINE_SEPARATORS = frozenset("\u2028\u2029")


def _escape(ch: str) -> str | None:
    """The visible escape of ``ch``, or None when ``ch`` is shown as it is."""
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # C0 (ESC, CR, LF, TAB, ...), DEL and C1 (CSI, ...)
        return f"\\x{code:02x}"
    if ch in BIDI_CONTROLS or ch in _LINE_SEPARATORS or 0xD800 <= code <= 0xDFFF:  # lone surrogates
        return f"\\u{code:04x}"
    return None


def printable(s: str, limit: int | None = None) -> str:
    """``s`` with control characters, DEL, C1 controls, bidi controls, line separators and lone
    surrogates escaped as ``\\xNN``/``\\uNNNN``; printable text (a backslash too) unchanged.

    With ``limit``, the result has at most ``limit`` characters: it is cut between escapes
    (never inside one) and ends in ``…`` when cut.

    >>> printable("ok\\tthen\\r\\nnext\\x7f")
    'ok\\\\x09then\\\\x0d\\\\x0anext\\\\x7f'
    >>> printable("caf\\u00e9 \\u65e5\\u672c")
    'café 日本'
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    size = 0
    for ch in s:
        piece = _escape(ch) or ch
        if limit is not None and size + len(piece) > limit:
            while pieces and size + 1 > limit:  # room for the ellipsis
                size -= len(pieces.pop())
            pieces.append("…")
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)


def decode_utf8(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text; a :class:`ConfigError` naming ``source`` and the first bad byte.

    >>> decode_utf8("día".encode(), "a.yaml")
    'día'
    >>> decode_utf8(b"ok: \\xff", "a.yaml")
    Traceback (most recent call last):
    ...
    glasswatch.errors.ConfigError: a.yaml: not UTF-8 text (byte 0xff at offset 4)
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ConfigError(f"{source}: not UTF-8 text (byte 0x{byte:02x} at offset {exc.start})") from None
