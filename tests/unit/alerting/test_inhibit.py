from __future__ import annotations

from glasswatch.alerting.inhibit import Inhibitor, InhibitRule
from glasswatch.alerting.mute import mute_stage
from glasswatch.alerting.notify.base import Notification
from glasswatch.schemas.alert import AlertKind, Severity
from glasswatch.testing.routing import T0, alert, resolved


def test_schema_break_mutes_feature_alerts_of_the_same_model_only() -> None:
    brk = alert("schema", kind=AlertKind.SCHEMA_BREAK, severity=Severity.CRITICAL)
    inh = Inhibitor().update(brk)
    assert inh.mutes(alert("feature:age"), T0)
    assert not inh.mutes(alert("feature:age", model="fraud"), T0)  # equal: [model]
    assert not inh.mutes(alert("prediction:mean", kind=AlertKind.THRESHOLD_STATIC), T0)  # not per-feature
    assert not inh.mutes(brk, T0)  # never itself
    inh.update(resolved(brk))
    assert not inh.mutes(alert("feature:age"), T0)


def test_upstream_outage_also_inhibits() -> None:
    out = alert("events", kind=AlertKind.UPSTREAM_OUTAGE)
    assert Inhibitor().update(out).mutes(alert("feature:x", kind=AlertKind.MISSING_RATE), T0)


def test_custom_rule_with_missing_equal_label() -> None:
    rule = InhibitRule(
        source_matchers=['severity="critical"'], target_matchers=['severity="warning"'], equal=("team",)
    )
    inh = Inhibitor([rule]).update(alert("a", severity=Severity.CRITICAL))
    assert inh.mutes(alert("b"), T0)  # team missing on both sides counts as equal
    assert not inh.mutes(alert("b", labels={"team": "x"}), T0)


def test_stage() -> None:
    brk = alert("schema", kind=AlertKind.SCHEMA_BREAK)
    inh = Inhibitor().update(brk)
    feat = alert("feature:age")
    stage = mute_stage(inh)
    assert stage(Notification(receiver="s", group_key="g", alerts=(feat,)), brk.starts_at) is None
    n = Notification(receiver="s", group_key="g", alerts=(feat, brk, resolved(feat)))
    out = stage(n, brk.starts_at)
    assert out is not None
    assert [a.signal for a in out.alerts] == ["schema", "feature:age"]


def test_the_firing_alerts_survive_in_the_state_book_and_junk_is_dropped() -> None:
    from glasswatch.alerting.inhibit import DEFAULT_INHIBIT_RULES, Inhibitor
    from glasswatch.alerting.state_book import StateBook
    from glasswatch.schemas.alert import AlertKind, Severity
    from glasswatch.testing.routing import T0, alert, resolved

    book = StateBook("inhibit|")
    outage = alert("events", kind=AlertKind.UPSTREAM_OUTAGE, severity=Severity.CRITICAL)
    gone = alert("feature:gone")
    Inhibitor(DEFAULT_INHIBIT_RULES, state=book).update(outage).update(gone).update(resolved(gone))
    kept = book.drain()
    assert [k for k, v in kept if v is not None] == [f"inhibit|{outage.fingerprint}"]
    restarted = StateBook("inhibit|")
    for key, value in kept:
        restarted.load(key.removeprefix("inhibit|"), value)
    restarted.load("f" * 16, b"{not an alert")
    inhibitor = Inhibitor(DEFAULT_INHIBIT_RULES, state=restarted)
    assert inhibitor.restore() == [outage]
    assert inhibitor.mutes(alert("feature:age"), T0)
    assert restarted.drain() == [("inhibit|" + "f" * 16, None)]  # the junk is deleted from the topic
