from __future__ import annotations

from datetime import timedelta

from glasswatch.alerting.grouping import Grouper, group_key
from glasswatch.alerting.notify.base import AlertSource
from glasswatch.alerting.route_tree import Route
from glasswatch.schemas.coords import Coord
from glasswatch.testing.routing import T0, alert, resolved

ROUTE = Route(id="/0", receiver="slack", group_by=("model",))
S = timedelta(seconds=1)


def test_group_wait_then_group_interval() -> None:
    g = Grouper().add(alert("feature:a"), [ROUTE], T0)
    assert g.flush_due(T0 + 29 * S) == []
    g.add(alert("feature:b"), [ROUTE], T0 + 20 * S)
    (first,) = g.flush_due(T0 + 30 * S)
    assert [a.signal for a in first.alerts] == ["feature:a", "feature:b"]
    assert first.group_key == '/0:{model="churn"}'
    assert first.group_labels == {"model": "churn"}
    # a new alert in a flushed group waits for group_interval, not group_wait
    g.add(alert("feature:c"), [ROUTE], T0 + 40 * S)
    assert g.flush_due(T0 + 40 * S + ROUTE.group_wait) == []
    (second,) = g.flush_due(T0 + 30 * S + ROUTE.group_interval)
    assert len(second.alerts) == 3


def test_groups_split_by_group_by_labels_and_route() -> None:
    other = Route(id="/1", receiver="pd", group_by=("model",))
    g = Grouper()
    g.add(alert(model="churn"), [ROUTE, other], T0).add(alert(model="fraud"), [ROUTE], T0)
    keys = sorted(n.group_key for n in g.flush_due(T0 + 30 * S))
    assert keys == ['/0:{model="churn"}', '/0:{model="fraud"}', '/1:{model="churn"}']


def test_newer_state_replaces_older_and_resolved_leave_after_flush() -> None:
    a = alert()
    g = Grouper().add(a, [ROUTE], T0)
    g.flush_due(T0 + 30 * S)
    g.add(resolved(a), [ROUTE], T0 + 60 * S)
    (n,) = g.flush_due(T0 + 30 * S + ROUTE.group_interval)
    assert [x.status.value for x in n.alerts] == ["resolved"]
    assert len(g) == 0
    assert g.next_flush_at() is None


def test_sources_are_handed_over_once() -> None:
    a = alert()
    ref = AlertSource(Coord("alerts", 0, 7), a.fingerprint)
    g = Grouper().add(a, [ROUTE], T0, ref)
    (n,) = g.flush_due(T0 + 30 * S)
    assert n.sources == (ref,)
    assert n.sources[0].coord.key == "alerts:0"  # the coordinate type survives the pydantic model
    (again,) = g.flush_due(T0 + 30 * S + ROUTE.group_interval)
    assert again.sources == ()


def test_group_by_all_labels() -> None:
    everything = Route(id="/", receiver="x", group_by=("...",))
    a = alert()
    assert group_key(everything, a.labels).count("=") == len(a.labels)
