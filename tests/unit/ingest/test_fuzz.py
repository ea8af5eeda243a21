"""A bounded mutation fuzz of the decoder (CI): 20,000 messages or 45 s, whichever comes first.

The long run is ``bench/fuzz.py`` (``just fuzz``). The invariant: ``decode()`` never raises, every
refusal has a known reason, every item of a message is accounted for exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from glasswatch.ingest.reject import Reject
from glasswatch.ingest.validate import Decoded
from glasswatch.testing.fuzz import fuzz, violations
from glasswatch.testing.mutations import MUTATIONS, Fuzzer

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_bounded_fuzz_keeps_the_decoder_contract() -> None:
    report = fuzz(20_000, seed=20260301, start=START, budget_s=45.0)
    assert report.crashes == 0, report.violations[:5]
    assert report.violations == []
    assert report.messages >= 5_000  # the budget was not eaten by a pathological input
    assert set(report.kinds) == set(MUTATIONS)
    # the mutations reach the interesting verdicts, not only not_json
    for reason in ("not_json", "bad_utf8", "invalid", "non_finite", "out_of_range", "oversize", "wrong_type"):
        assert report.rejected[reason] > 0, reason
    assert report.accepted_events > 0 and report.accepted_messages > 0


def test_the_fuzzer_is_a_pure_seeded_generator() -> None:
    a = list(Fuzzer(seed=5, start=START).messages(300))
    b = list(Fuzzer(seed=5, start=START).messages(300))
    c = list(Fuzzer(seed=6, start=START).messages(300))
    assert a == b
    assert a != c


def test_the_accounting_check_can_fail() -> None:
    """``violations`` is not vacuous: a lost item, a double reject or an unknown reason show."""
    batch = b'{"type":"batch","events":[{},{},{}]}'
    lost = Decoded(rejects=[Reject("invalid", "X", "d", 0), Reject("invalid", "X", "d", 1)])
    twice = Decoded(rejects=[Reject("invalid", "X", "d", 0)] * 3)
    unknown = Decoded(rejects=[Reject("bogus", "X", "d")])
    mixed = Decoded(rejects=[Reject("invalid", "X", "d"), Reject("invalid", "X", "d", 0)])
    assert violations(batch, lost)
    assert violations(batch, twice)
    assert violations(b"{}", unknown)
    assert violations(batch, mixed)
    assert violations(b"{", Decoded())  # an unparsable message neither refused nor accepted
