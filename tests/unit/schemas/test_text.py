"""``printable``: no control, bidi or surrogate character survives; printable text is unchanged."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glasswatch.errors import ConfigError
from glasswatch.schemas.text import BIDI_CONTROLS, decode_utf8, printable

DANGEROUS = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + sorted(BIDI_CONTROLS | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
    + ["\u2028", "\u2029", "\ud800", "\udbff", "\udc00", "\udfff"]
)


def _unsafe(ch: str) -> bool:
    return (
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
        or ch in BIDI_CONTROLS
        or 0x202A <= ord(ch) <= 0x202E
        or 0x2066 <= ord(ch) <= 0x2069
    )


# every code point, lone surrogates included (hypothesis' text() leaves them out by default)
any_char = st.characters(codec=None, exclude_categories=())


@given(st.text(alphabet=any_char, max_size=200) | st.lists(st.sampled_from(DANGEROUS)).map("".join))
def test_no_control_bidi_or_surrogate_character_survives(s: str) -> None:
    out = printable(s)
    assert not [ch for ch in out if _unsafe(ch)]
    out.encode("utf-8")  # lone surrogates are gone: the result is always encodable


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_printable_ascii_is_unchanged(s: str) -> None:
    assert printable(s) == s


@given(st.text(alphabet=any_char, max_size=100))
def test_safe_characters_are_kept_and_escapes_are_visible(s: str) -> None:
    out = printable(s)
    for ch in s:
        if _unsafe(ch):
            code = ord(ch)
            assert (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") in out
        else:
            assert ch in out


@given(st.text(alphabet=any_char, max_size=100), st.integers(min_value=1, max_value=60))
def test_limit_bounds_the_output_and_never_cuts_an_escape(s: str, limit: int) -> None:
    out = printable(s, limit=limit)
    full = printable(s)
    assert len(out) <= limit
    if len(full) <= limit:
        assert out == full
    else:
        assert out.endswith("…")
        assert full.startswith(out[:-1])
        bounds = set(itertools.accumulate((len(printable(ch)) for ch in s), initial=0))
        assert len(out) - 1 in bounds  # cut between two escapes, never inside one


def test_escape_sequences_and_overrides() -> None:
    assert printable("\x1b[2J\x1b]0;pwned\x07cat") == "\\x1b[2J\\x1b]0;pwned\\x07cat"
    assert printable("a\rb\nc\td\x7f\x9b") == "a\\x0db\\x0ac\\x09d\\x7f\\x9b"
    assert printable("user\u202etxt.exe\u2066") == "user\\u202etxt.exe\\u2066"
    assert printable("\ud800x") == "\\ud800x"
    assert printable("naïve 日本 ✓ \\x41") == "naïve 日本 ✓ \\x41"
    with pytest.raises(ValueError, match="limit must be at least 1"):
        printable("x", limit=0)


def test_decode_utf8_names_the_first_bad_byte() -> None:
    assert decode_utf8("ünïcode: ✓".encode(), "f.yaml") == "ünïcode: ✓"
    with pytest.raises(ConfigError, match=r"^f\.yaml: not UTF-8 text \(byte 0xe9 at offset 6\)$"):
        decode_utf8(b"route:" + "é".encode("latin-1") + b"\n", "f.yaml")
    with pytest.raises(ConfigError, match=r"byte 0xff at offset 0"):
        decode_utf8(b"\xff\xfe", "f.yaml")
    assert isinstance(ConfigError("x"), ValueError)
