from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.webhook import WebhookNotifier
from glasswatch.errors import NotifyError
from glasswatch.testing.routing import alert


class Hook:
    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        hook = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = f"nope {hook.secret_path}".encode()
                self.send_response(hook.status)
                if hook.status == 429:
                    self.send_header("Retry-After", "4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.secret_path = "/hooks/T0KEN-CANARY-QZQZ"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.secret_path}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


def test_posts_alertmanager_style_json(hook: Hook) -> None:
    a = alert()
    WebhookNotifier("hook", url=SecretStr(hook.url)).send(
        Notification(receiver="hook", group_key="g", group_labels={"model": "churn"}, alerts=(a,))
    )
    (body,) = hook.bodies
    assert body["status"] == "firing"
    assert body["groupKey"] == "g"
    assert body["alerts"][0]["fingerprint"] == a.fingerprint


@pytest.mark.parametrize(
    ("status", "retryable", "after"), [(429, True, 4.0), (503, True, None), (400, False, None)]
)
def test_errors_are_mapped_and_never_show_the_url(
    hook: Hook, status: int, retryable: bool, after: object
) -> None:
    hook.status = status
    with pytest.raises(NotifyError) as info:
        WebhookNotifier("hook", url=SecretStr(hook.url)).send(
            Notification(receiver="hook", group_key="g", alerts=(alert(),))
        )
    assert info.value.retryable is retryable
    assert info.value.retry_after == after
    assert "T0KEN-CANARY" not in str(info.value)


def test_unreachable_is_retryable_and_bad_scheme_refused() -> None:
    with pytest.raises(NotifyError) as info:
        WebhookNotifier("hook", url=SecretStr("http://127.0.0.1:9/x-CANARY"), timeout=2).send(
            Notification(receiver="hook", group_key="g", alerts=(alert(),))
        )
    assert info.value.retryable
    assert "CANARY" not in str(info.value)
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("hook", url=SecretStr("file:///etc/passwd"))
