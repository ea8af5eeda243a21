"""Every alert kind a default inhibit rule names is emitted for real by some module.

An inhibit rule whose source kind nobody emits never fires (dead configuration), and one whose
source is emitted with the wrong ``model`` never inhibits anything (``equal: [model]``). So the
emitters are driven here — a producer whose messages break the contract through the reject path,
a model that goes silent through its monitor — and their alerts must cover every kind the default
rules name, carry the model, and mute that model's per-feature alerts.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from glasswatch.alerting.inhibit import DEFAULT_INHIBIT_RULES, Inhibitor, InhibitRule
from glasswatch.alerting.matchers import Matcher, MatchType
from glasswatch.alerting.routes import default_routing, load_routing_file
from glasswatch.ingest.validate import decode
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.reject_rate import RejectRate, model_hint
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus
from glasswatch.testing.routing import alert
from glasswatch.testing.simulate import simulate

EXAMPLE = Path(__file__).parents[3] / "docs" / "routes.example.yaml"
MODEL = "churn"
WINDOW = timedelta(seconds=10)


def default_rule_sets() -> dict[str, tuple[InhibitRule, ...]]:
    return {
        "DEFAULT_INHIBIT_RULES": DEFAULT_INHIBIT_RULES,
        "default_routing(local)": default_routing("local").inhibit_rules,
        "default_routing(prod)": default_routing("prod").inhibit_rules,
        "docs/routes.example.yaml": load_routing_file(EXAMPLE).inhibit_rules,
    }


def kinds_named(m: Matcher) -> set[AlertKind]:
    """The kinds a ``kind`` matcher names: those it selects, or those it excludes (``!=``, ``!~``)."""
    negative = m.type in (MatchType.NOT_EQUAL, MatchType.NOT_REGEX)
    return {k for k in AlertKind if m.matches({"kind": k.value}) != negative}


def schema_break_of_a_producer() -> list[Alert]:
    """A producer of ``churn`` deploys a contract this worker does not know: the reject path."""
    good = simulate(60, model=MODEL)
    bad = orjson.dumps({"schema_version": 2, "type": "prediction", "model": MODEL})
    st = PartitionState(topic="predictions", partition=0)
    st.reject_rate = RejectRate("predictions", 0, block_messages=20, hysteresis=2, resolve_after=1)
    now = good[-1].event.event_time
    out: list[Alert] = []
    for off in range(120):
        raw = bad if 20 <= off < 80 else orjson.dumps(good[off % 60].event.model_dump(mode="json"))
        d = decode(raw, now=now)
        key = MODEL.encode() if off % 2 else None  # keyed or not: the model is known either way
        model = model_hint(key, raw) if d.rejects else None
        st.apply(off, d.events, [r.reason for r in d.rejects], d.ticks, reject_model=model)
        out += st.take_alerts()
    st.pending.clear()
    return out


def outage_of_a_model() -> list[Alert]:
    """``churn`` goes silent for a minute, then its events come back: the model monitor."""
    spec = MonitorSpec(
        model=MODEL, window={"size_seconds": WINDOW.total_seconds()}, anomaly={"enabled": False}
    )
    mon = ModelMonitor(spec)
    before = simulate(3_000, model=MODEL, seed=4)
    alerts = mon.update_many(before).alerts
    silent_until = before[-1].event.event_time + 6 * WINDOW
    alerts += mon.advance(silent_until).alerts
    after = simulate(2_000, model=MODEL, seed=5, start=silent_until, first_offset=len(before))
    alerts += mon.update_many(after).alerts
    return alerts


@pytest.fixture(scope="module")
def emitted() -> list[Alert]:
    return schema_break_of_a_producer() + outage_of_a_model()


def test_the_default_rules_name_kinds_on_both_sides() -> None:
    for where, rules in default_rule_sets().items():
        assert rules, where
        for rule in rules:
            for m in (*rule.source_matchers, *rule.target_matchers):
                if m.name != "kind":
                    continue
                assert kinds_named(m), f"{where}: {m} names no alert kind"
                if m.type in (MatchType.REGEX, MatchType.NOT_REGEX) and re.fullmatch(r"[a-z_|]+", m.value):
                    unknown = set(m.value.split("|")) - {k.value for k in AlertKind}
                    assert not unknown, f"{where}: {m} names unknown kinds {unknown}"


@pytest.mark.parametrize("where", list(default_rule_sets()))
def test_every_kind_a_default_inhibit_rule_names_is_emitted(where: str, emitted: list[Alert]) -> None:
    named = {
        k
        for rule in default_rule_sets()[where]
        for m in (*rule.source_matchers, *rule.target_matchers)
        if m.name == "kind"
        for k in kinds_named(m)
    }
    assert named >= {AlertKind.SCHEMA_BREAK, AlertKind.UPSTREAM_OUTAGE}
    fired = {a.kind for a in emitted if a.status is AlertStatus.FIRING}
    assert named - fired == set(), f"{where}: kinds named by an inhibit rule but never emitted"


@pytest.mark.parametrize("kind", [AlertKind.SCHEMA_BREAK, AlertKind.UPSTREAM_OUTAGE])
def test_emitted_source_alerts_carry_the_model_resolve_and_mute_its_feature_alerts(
    kind: AlertKind, emitted: list[Alert]
) -> None:
    mine = [a for a in emitted if a.kind is kind]
    assert [a.status for a in mine] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    firing, resolved = mine
    assert firing.model == MODEL  # the model, not the topic: ``equal: [model]`` can match
    assert firing.fingerprint == resolved.fingerprint
    feature = alert("feature:age", model=MODEL, kind=AlertKind.MISSING_RATE)
    other = alert("feature:age", model="fraud", kind=AlertKind.MISSING_RATE)
    inhibitor = Inhibitor(default_routing("prod").inhibit_rules).update(firing)
    assert inhibitor.mutes(feature, firing.starts_at)
    assert not inhibitor.mutes(other, firing.starts_at)
    assert not inhibitor.update(resolved).mutes(feature, firing.starts_at)


def test_dead_letters_stays_for_rejects_that_are_not_schema_problems() -> None:
    m = RejectRate("predictions", 0, block_messages=10, hysteresis=1)
    for off in range(10):
        m.update(off, ["not_json"], model=model_hint(MODEL.encode()))
    assert [(a.kind, a.severity.value) for a in m.alerts] == [(AlertKind.DEAD_LETTERS, "warning")]
