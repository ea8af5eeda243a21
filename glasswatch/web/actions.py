"""The alert page's actions: acknowledge, silence, accept as new normal (form posts, CSRF-safe).

``POST /alerts/<fingerprint>/ack`` writes an :class:`~glasswatch.schemas.ack.AlertAck` of the
alert's current firing episode with :meth:`AckStore.put <glasswatch.kafka.ack_store.AckStore.put>`
(the router stops escalating and tells Slack and PagerDuty); ``POST /alerts/<fingerprint>/silence``
writes a :class:`~glasswatch.alerting.silence.Silence` matching the alert's model, kind and signal
for the hours asked with :class:`~glasswatch.kafka.silence_store.SilenceStore`;
``POST /alerts/<fingerprint>/accept`` ("Accept as new normal", shown for a firing alert of a learned
band or drift detector: :func:`~glasswatch.schemas.baseline_accept.acceptable`) writes a
:class:`~glasswatch.schemas.baseline_accept.BaselineAccept` of the alert's model and signal with
:meth:`AcceptLog.put <glasswatch.kafka.baseline_accepts.AcceptLog.put>` (the worker resolves the
alert when the model's events reach the accept's time). All answer ``303 See Other`` back to the
alert page.

Cross-site requests are refused twice: the form carries a per-process random token
(:attr:`Dashboard.csrf <glasswatch.web.dashboard.Dashboard.csrf>`, compared in constant time), and a
request whose ``Origin`` (or, without one, ``Referer``) names another origin is refused (403).
Only POST changes anything; GET of these paths is 405.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import faust
import pydantic
from faust.web import View

from glasswatch.alerting.matchers import Matcher, MatchType
from glasswatch.alerting.silence import Silence
from glasswatch.errors import BrokerError
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import FINGERPRINT_HEX, Alert
from glasswatch.schemas.baseline_accept import BaselineAccept, acceptable
from glasswatch.web.dashboard import Dashboard
from glasswatch.web.templating import TEMPLATES, page_headers

__all__ = ["MAX_SILENCE_HOURS", "AcceptWriter", "AckWriter", "Clock", "SilenceWriter", "attach_actions",
           "same_origin"]  # fmt: skip

AckWriter = Callable[[AlertAck], Awaitable[None]]
"""``AckStore.put``."""
SilenceWriter = Callable[[Silence], Awaitable[None]]
"""``SilenceStore.put``."""
AcceptWriter = Callable[[BaselineAccept], Awaitable[None]]
"""``AcceptLog.put``."""
Clock = Callable[[], datetime]

_FINGERPRINT = re.compile(rf"[0-9a-f]{{{FINGERPRINT_HEX}}}")
MAX_SILENCE_HOURS = 720.0


def same_origin(request: Any) -> bool:
    """False when the request's ``Origin`` (else ``Referer``) names another scheme://host:port.

    A form posted from the worker's own page carries its origin; a request without either header
    (curl, some privacy settings) is judged by the token alone."""
    own = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin")
    if origin is not None:
        return bool(origin == own)
    referer = request.headers.get("Referer")
    if referer is None:
        return True
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" == own


def _refuse(view: Any, status: int, why: str) -> Any:
    body = TEMPLATES.get_template("refused.html").render(status=status, why=why)
    return view.html(body, status=status, headers=page_headers())


def attach_actions(
    app: faust.App,
    dashboard: Dashboard,
    put_ack: AckWriter,
    put_silence: SilenceWriter,
    *,
    put_accept: AcceptWriter | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> None:
    """Register the ack, silence and accept form handlers (see the module docstring); without
    ``put_accept`` an accept is refused (503)."""

    async def checked(view: Any, request: Any, fingerprint: str) -> tuple[Alert | None, Any, Any]:
        """(the alert, the form, None) or (None, None, an error response)."""
        if not same_origin(request):
            return None, None, _refuse(view, 403, "cross-origin request refused")
        form = await request.post()
        token = form.get("csrf")
        if not isinstance(token, str) or not secrets.compare_digest(token, dashboard.csrf):
            return None, None, _refuse(view, 403, "missing or stale form token: reload the alert page")
        history = dashboard.state.book.history(fingerprint) if _FINGERPRINT.fullmatch(fingerprint) else []
        if not history:
            return None, None, _refuse(view, 404, "no such alert")
        return history[-1], form, None

    def back(view: Any, fingerprint: str, done: str) -> Any:
        headers = {**page_headers(), "Location": f"/alerts/{fingerprint}/?done={done}"}
        return view.html("", status=303, headers=headers)

    class AckAction(View):
        async def post(self, request: Any, fingerprint: str) -> Any:
            alert, form, error = await checked(self, request, fingerprint)
            if alert is None:
                return error
            try:
                ack = AlertAck(fingerprint=alert.fingerprint, starts_at=alert.starts_at,
                               by=str(form.get("by", "")).strip(), at=clock(),
                               note=str(form.get("note", "")).strip())  # fmt: skip
            except pydantic.ValidationError:
                return _refuse(self, 400, "an ack needs a name (at most 200 characters) and a short note")
            try:
                await put_ack(ack)
            except BrokerError:
                return _refuse(self, 503, "Kafka is unreachable: the ack was not stored, try again")
            dashboard.state.add_ack(ack)
            return back(self, fingerprint, "ack")

    class SilenceAction(View):
        async def post(self, request: Any, fingerprint: str) -> Any:
            alert, form, error = await checked(self, request, fingerprint)
            if alert is None:
                return error
            try:
                hours = float(str(form.get("hours", "")))
            except ValueError:
                hours = -1.0
            by = str(form.get("by", "")).strip()
            if not 0 < hours <= MAX_SILENCE_HOURS or not by or len(by) > 200:
                return _refuse(self, 400, f"a silence needs a name and 0 < hours <= {MAX_SILENCE_HOURS:g}")
            now = clock()
            labels = (("model", alert.model), ("kind", alert.kind.value), ("signal", alert.signal))
            matchers = [Matcher(name=k, type=MatchType.EQUAL, value=v) for k, v in labels]
            silence = Silence.create(matchers=matchers, starts_at=now, ends_at=now + timedelta(hours=hours),
                                     created_by=by, comment=str(form.get("comment", ""))[:2000])  # fmt: skip
            try:
                await put_silence(silence)
            except BrokerError:
                return _refuse(self, 503, "Kafka is unreachable: the silence was not stored, try again")
            return back(self, fingerprint, "silence")

    class AcceptAction(View):
        async def post(self, request: Any, fingerprint: str) -> Any:
            alert, form, error = await checked(self, request, fingerprint)
            if alert is None:
                return error
            if not acceptable(alert):
                return _refuse(self, 409, "only a firing learned band or drift detector can be accepted")
            if put_accept is None:
                return _refuse(self, 503, "this worker does not store baseline accepts")
            try:
                by, note = str(form.get("by", "")).strip(), str(form.get("note", "")).strip()
                accept = BaselineAccept.of_alert(alert, by=by, note=note, now=clock())
            except pydantic.ValidationError:
                return _refuse(self, 400, "an accept needs a name (at most 200 characters) and a short note")
            try:
                await put_accept(accept)
            except BrokerError:
                return _refuse(self, 503, "Kafka is unreachable: the accept was not stored, try again")
            return back(self, fingerprint, "accept")

    app.page("/alerts/{fingerprint}/ack", name="glasswatch_ack")(AckAction)
    app.page("/alerts/{fingerprint}/silence", name="glasswatch_silence")(SilenceAction)
    app.page("/alerts/{fingerprint}/accept", name="glasswatch_accept")(AcceptAction)
