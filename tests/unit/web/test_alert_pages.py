"""The alert pages render producer-controlled text escaped, link only to http(s) and never 500.

Whoever can write the alerts topic controls every string of an alert; the pages are read by an
on-call engineer in a browser. The HTML is parsed (stdlib ``html.parser``): no ``<script>``
element, no ``on*`` attribute, no ``javascript:``/``data:`` URL may appear, and the hostile text
must still be visible (escaped, not dropped).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import faust
import pydantic
import pytest
from aiohttp.test_utils import TestClient, TestServer

from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Links, Severity, fingerprint_of
from glasswatch.schemas.coords import OffsetRange
from glasswatch.web.alerts import (
    AlertBook,
    attach_alert_pages,
    render_alert_page,
    render_index,
    render_missing,
    render_playbook,
    safe_link,
)

T = datetime(2026, 1, 1, tzinfo=UTC)
XSS = '<script>document.title="pwned"</script>"onmouseover="alert(1)\' onfocus=\'x javascript:alert(2)'


class _Page(HTMLParser):
    """What a browser would act on: elements, attributes, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


def assert_harmless(page: str, *, visible: str | None = XSS) -> None:
    p = _parse(page)
    assert "script" not in p.tags
    assert "iframe" not in p.tags and "img" not in p.tags
    assert not [k for k, _ in p.attrs if k.startswith("on")], "an event-handler attribute got through"
    urls = [v.strip().lower() for k, v in p.attrs if k in ("href", "src", "action", "formaction")]
    assert not [u for u in urls if not u.startswith(("/", "http://", "https://"))], urls
    if visible is not None:  # escaped, not dropped: a person sees what the producer wrote
        assert visible in "".join(p.text)


def forged() -> Alert:
    """A contract-valid alert with hostile text in every string a page shows."""
    return Alert.build(
        kind=AlertKind.THRESHOLD_STATIC,
        severity=Severity.CRITICAL,
        model=XSS,
        signal=XSS,
        summary=XSS,
        starts_at=T,
        labels={XSS: XSS, "team": XSS},
        evidence={XSS: XSS, "value": 1.5, "band": [XSS, 2]},
        lineage=Lineage(model_version=XSS, offsets=(OffsetRange(topic=XSS, partition=0, first=1, last=2),)),
        replay_command=XSS,
        mlflow_run_url="https://mlflow.example.com/#/runs/1",
    )


def test_every_shown_field_of_a_forged_alert_renders_escaped() -> None:
    a = forged()
    page = render_alert_page([a])
    assert_harmless(page)
    text = "".join(_parse(page).text)
    assert text.count(XSS) >= 7  # summary (title and h1), model, signal, labels, evidence, replay
    assert 'href="https://mlflow.example.com/#/runs/1"' in page
    assert_harmless(render_index([a]))
    assert_harmless(render_missing(XSS))
    assert_harmless(render_playbook(XSS, XSS))


def test_bad_ids_and_links_are_escaped_even_when_the_contract_was_bypassed() -> None:
    """Defence in depth: an alert built without validation (model_construct) still cannot inject."""
    good = forged()
    evil_links = Links.model_construct(
        dashboard="javascript:alert(1)",
        playbook=" JAVASCRIPT:alert(2)",
        mlflow_run="data:text/html,<script>x</script>",
    )
    bad = good.model_construct(**{**dict(good), "id": XSS, "fingerprint": XSS, "links": evil_links})
    page = render_alert_page([bad])
    assert_harmless(page)
    assert 'id="playbook"' not in page and 'id="mlflow-run"' not in page  # not http(s): no link at all
    assert_harmless(render_index([bad]))


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:x", "data:text/html,x", "vbscript:x",
            "/relative", "//host/x", "http://", "http://a b", "http://a\nb", "https://a/\x00", "file:///etc/passwd"],
)
def test_the_contract_and_the_pages_refuse_non_http_links(url: str) -> None:
    a = forged()
    for field in ("dashboard", "playbook", "mlflow_run"):
        doc = {**a.model_dump(mode="json"), "links": {**a.links.model_dump(), field: url}}
        with pytest.raises(pydantic.ValidationError):
            Alert.model_validate(doc)
    assert safe_link(url) is None
    with pytest.raises(pydantic.ValidationError):
        a.with_base_url(url)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", XSS),
        ("id", "0123456789abcdef012"),  # one short
        ("id", "0123456789ABCDEF0123"),  # upper case: not what the code produces
        ("id", "0123456789abcdef0123\n"),
        ("fingerprint", "<b>0123456789ab</b>"),
        ("fingerprint", "0123456789abcdeg"),
        ("fingerprint", "0123456789abcdef0"),
        ("fingerprint", ""),
    ],
)
def test_the_contract_refuses_ids_and_fingerprints_the_code_does_not_make(field: str, value: str) -> None:
    doc = {**forged().model_dump(mode="json"), field: value}
    with pytest.raises(pydantic.ValidationError):
        Alert.model_validate(doc)


def test_ids_and_fingerprints_the_code_makes_pass_the_contract() -> None:
    for status in AlertStatus:
        a = Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.INFO, model="m", signal="s",
                        summary="x", starts_at=T, status=status, ends_at=T)
        assert Alert.model_validate_json(a.model_dump_json()) == a
        assert len(a.fingerprint) == 16 and len(a.id) == 20
        assert a.fingerprint == fingerprint_of("m", "event_rate", "s")


def _bad_records(a: Alert) -> list[bytes | None]:
    doc = a.model_dump(mode="json")
    return [
        b"\xff not json at all",
        b"",
        None,
        b"[1, 2]",
        json.dumps({**doc, "fingerprint": "<script>x</script>"}).encode(),
        json.dumps({**doc, "links": {**doc["links"], "playbook": "javascript:alert(1)"}}).encode(),
        json.dumps({**doc, "extra": 1}).encode(),
    ]


def test_the_book_skips_and_counts_bad_records(caplog: pytest.LogCaptureFixture) -> None:
    a = forged()
    book = AlertBook()
    with caplog.at_level("WARNING", logger="glasswatch.web.alerts"):
        parsed = [book.parse(r) for r in _bad_records(a)]
        good = book.parse(a.model_dump_json().encode())
    assert parsed == [None] * len(parsed)
    assert good == a
    assert book.parse(a.model_dump(mode="json")) == a  # a decoded record too
    assert book.skipped == len(parsed)
    assert len([r for r in caplog.records if r.name == "glasswatch.web.alerts"]) == 1  # logged once


def _serve(book: AlertBook, records: list[bytes | None]) -> faust.App:
    app = faust.App("gw-unit-alert-pages", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)

    async def load(fingerprint: str) -> list[Alert]:  # what topic_loader does, without a broker
        parsed = [book.parse(r) for r in records]
        return [x for x in parsed if x is not None and x.fingerprint == fingerprint]

    attach_alert_pages(app, book, load)
    return app


def _get_all(app: faust.App, paths: list[str]) -> list[tuple[str, int, str]]:
    """GET each path in order, in one server session: ``(path, status, body)``."""

    async def fetch() -> list[tuple[str, int, str]]:
        async with TestClient(TestServer(app.web.web_app)) as client:
            out = []
            for path in paths:
                resp = await client.get(path)
                out.append((path, resp.status, await resp.text()))
            return out

    return asyncio.run(fetch())


def test_bad_records_on_the_alerts_topic_never_make_a_page_answer_500() -> None:
    a = forged()
    other = Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.WARNING, model="m",
                        signal="events:rate", summary="rate dropped", starts_at=T)
    book = AlertBook()
    book.add(other)
    records = [*_bad_records(a), a.model_dump_json().encode()]
    app = _serve(book, records)
    unknown = fingerprint_of("nobody", "event_rate", "x")
    got = _get_all(app, ["/alerts/", f"/alerts/{a.fingerprint}/", f"/alerts/{unknown}/",
                         f"/alerts/{other.fingerprint}/", "/alerts/%3Cscript%3Ex%3C%2Fscript%3E/",
                         "/playbooks/threshold_static.md", "/playbooks/..%2F..%2Fpyproject.toml",
                         "/alerts/"])
    *first, (_, _, index) = got
    assert {p: s for p, s, _ in first} == {
        "/alerts/": 200,
        f"/alerts/{a.fingerprint}/": 200,  # read back from the topic past the bad records
        f"/alerts/{unknown}/": 404,
        f"/alerts/{other.fingerprint}/": 200,
        "/alerts/%3Cscript%3Ex%3C%2Fscript%3E/": 404,
        "/playbooks/threshold_static.md": 200,
        "/playbooks/..%2F..%2Fpyproject.toml": 404,
    }
    assert book.skipped >= len(_bad_records(a))
    for path, _, body in got:
        assert_harmless(body, visible=XSS if path == f"/alerts/{a.fingerprint}/" else None)
    garbage = dict((p, b) for p, _, b in first)["/alerts/%3Cscript%3Ex%3C%2Fscript%3E/"]
    assert "&lt;script&gt;x&lt;/script&gt;" in garbage
    # the alert read back is remembered: the index now lists it, escaped
    assert f'href="/alerts/{a.fingerprint}/"' in index
    assert_harmless(index)
