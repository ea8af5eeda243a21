"""Local HTTP servers that speak just enough Slack Web API and PagerDuty Events API v2.

The real ``slack_sdk`` and ``pagerduty`` clients talk to them, so contract tests assert the exact
requests those clients send and how our adapters read the answers. Each server records every
request (:attr:`FakeServer.requests`) and which ones it *accepted* (answered with success), and
replies from a script (:meth:`FakeServer.script`) before falling back to success:

* ``Reply(429, headers={"Retry-After": "3"})`` — rate limited;
* ``Reply(503)`` — outage; ``Reply(400, body=...)`` — refusal;
* ``Reply(200, delay=1.0)`` — slower than the client's timeout;
* ``Reply(503, hold=event)`` — keep the request open until ``event`` is set (used to kill a
  router while a delivery is in flight);
* :meth:`FakeServer.once` answers the first request matching a predicate with a given reply.

PagerDuty's client insists on ``https://``, so :class:`FakePagerDuty` serves TLS with a
self-signed certificate for 127.0.0.1 made with ``cryptography``; pass :attr:`ssl_context` as
the client's ``verify``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FakePagerDuty", "FakeServer", "FakeSlack", "Recorded", "Reply"]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int = 0
    accepted: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # client went away: fine
        pass


class FakeServer:
    """Base: a threaded HTTP server with scripted replies and a request log."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: list[Reply] = []
        self._rules: list[tuple[Callable[[Recorded], bool], Reply]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                rec = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
                with fake._lock:
                    fake.requests.append(rec)
                    rule = next((r for r in fake._rules if r[0](rec)), None)
                    if rule is not None:
                        fake._rules.remove(rule)
                        reply = rule[1]
                    else:
                        reply = fake._script.pop(0) if fake._script else None
                if reply is not None and reply.hold is not None:
                    reply.hold.wait(30)
                if reply is not None and reply.delay:
                    time.sleep(reply.delay)
                status, payload, headers = fake.respond(rec, reply)
                rec.status = status
                with fake._lock:  # before answering, so the client never sees an unrecorded success
                    slow = reply is not None and reply.delay > 0
                    rec.accepted = fake.is_success(status, payload) and not slow
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                try:
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:  # the client timed out and left
                    with fake._lock:
                        rec.accepted = False

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.wrap(self._server)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    # -- to specialise -------------------------------------------------------------------
    scheme = "http"

    def wrap(self, server: ThreadingHTTPServer) -> None:
        """Hook for TLS."""

    def respond(self, rec: Recorded, reply: Reply | None) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def is_success(self, status: int, payload: Any) -> bool:
        return 200 <= status < 300

    # -- API -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def script(self, *replies: Reply) -> FakeServer:
        with self._lock:
            self._script.extend(replies)
        return self

    def once(self, when: Callable[[Recorded], bool], reply: Reply) -> FakeServer:
        """Answer the first request matching ``when`` with ``reply`` (before the script)."""
        with self._lock:
            self._rules.append((when, reply))
        return self

    @property
    def accepted(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.accepted]

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeSlack(FakeServer):
    """``POST /api/chat.postMessage`` and ``/api/chat.update``; Slack answers ``{"ok": ...}``."""

    def __init__(self) -> None:
        self._ts = 0
        super().__init__()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def respond(self, rec: Recorded, reply: Reply | None) -> tuple[int, Any, dict[str, str]]:
        if reply is not None and not (reply.status == 200 and reply.body is None):
            body = reply.body
            if body is None:
                body = {"ok": False, "error": "internal_error"}
                if reply.status == 429:
                    body = {"ok": False, "error": "ratelimited"}
            return reply.status, body, reply.headers
        method = rec.path.rsplit("/", 1)[-1]
        args = rec.body if isinstance(rec.body, dict) else {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}, {}
        with self._lock:
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
        return 200, {"ok": True, "channel": "C0ALERTS", "ts": ts, "message": {"text": args.get("text")}}, {}

    def is_success(self, status: int, payload: Any) -> bool:
        return status == 200 and isinstance(payload, dict) and bool(payload.get("ok"))


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class FakePagerDuty(FakeServer):
    """``POST /v2/enqueue`` over TLS → ``202 {"status": "success", "dedup_key": ...}``."""

    scheme = "https"

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.cert, self.key = _self_signed(Path(self._dir.name))
        self.ssl_context = ssl.create_default_context(cafile=str(self.cert))
        self._n = 0
        super().__init__()

    def wrap(self, server: ThreadingHTTPServer) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)

    def respond(self, rec: Recorded, reply: Reply | None) -> tuple[int, Any, dict[str, str]]:
        if reply is not None:
            body = reply.body
            if body is None:
                body = {"status": "invalid event", "message": "Event object is invalid", "errors": []}
                if reply.status == 429:
                    body = {
                        "status": "throttle event",
                        "message": "Requests for this service are arriving too quickly",
                    }
                elif reply.status >= 500:
                    body = {"status": "error", "message": "internal error"}
                elif reply.status == 202:
                    body = {"status": "success", "message": "Event processed", "dedup_key": "x"}
            return reply.status, body, reply.headers
        event = rec.body if isinstance(rec.body, dict) else {}
        with self._lock:
            self._n += 1
            key = event.get("dedup_key") or f"generated-{self._n}"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, {}

    def events(self, accepted_only: bool = True) -> Iterator[tuple[str, str]]:
        """``(event_action, dedup_key)`` of the requests (accepted ones by default)."""
        for r in self.accepted if accepted_only else self.requests:
            if isinstance(r.body, dict):
                yield r.body.get("event_action", ""), r.body.get("dedup_key", "")

    def stop(self) -> None:
        super().stop()
        self._dir.cleanup()
