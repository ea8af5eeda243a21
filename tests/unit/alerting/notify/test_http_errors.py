from __future__ import annotations

from datetime import UTC, datetime

import pytest

from glasswatch.alerting.notify.http_errors import from_status, network_error, parse_retry_after


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (408, True), (500, True), (503, True), (400, False), (401, False), (404, False)],
)
def test_status_mapping(status: int, retryable: bool) -> None:
    assert from_status("svc", status, redact=str).retryable is retryable


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("-5") == 0.0


def test_body_is_cut_and_redacted() -> None:
    err = from_status(
        "svc", 400, body="secret " + "x" * 500, redact=lambda t: str(t).replace("secret", "***")
    )
    assert str(err).startswith("svc: HTTP 400: *** x")
    assert len(str(err)) < 250


def test_network_error_keeps_only_the_type() -> None:
    try:
        raise ConnectionRefusedError("http://user:pw@host refused")
    except ConnectionRefusedError as exc:
        err = network_error("svc", exc, redact=str)
    assert str(err) == "svc: network error (ConnectionRefusedError)"
    assert err.retryable
