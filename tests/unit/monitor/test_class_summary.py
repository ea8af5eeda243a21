"""``class_summary`` of two classes takes a shortcut (issue 14): bit for bit the general rule."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from glasswatch.monitor.aggregates import class_summary


def _general(probabilities: dict[str, float]) -> tuple[str, float, float | None]:
    """The rule as written before the shortcut (any number of classes)."""
    label, top = "", -1.0
    for c, p in probabilities.items():
        if p > top or (p == top and c < label):
            label, top = c, p
    top = float(top)
    total = math.fsum(probabilities.values())
    if not total > 0.0:
        return label, top, None
    plogp = math.fsum(p * math.log(p) for p in probabilities.values() if p > 0.0)
    return label, top, max(0.0, math.log(total) - plogp / total)


_P = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0, 1, 0.0, 1.0, 0.5, 5e-324, 1e-300]))


@given(st.text(max_size=3), st.text(max_size=3), _P, _P)
def test_two_classes_give_the_general_rule_bit_for_bit(a: str, b: str, pa: float, pb: float) -> None:
    probs = {a: pa, b: pb}
    got, want = class_summary(probs), _general(probs)
    assert got[:2] == want[:2] and type(got[1]) is float
    assert (got[2] is None and want[2] is None) or (got[2] is not None and want[2] is not None)
    if got[2] is not None:
        assert want[2] is not None and got[2].hex() == want[2].hex()


def test_ties_and_zeros() -> None:
    assert class_summary({"b": 0.5, "a": 0.5}) == ("a", 0.5, math.log(2))
    assert class_summary({"no": 0, "yes": 1}) == ("yes", 1.0, 0.0)
    assert class_summary({"x": 0.0, "y": 0}) == ("x", 0.0, None)
