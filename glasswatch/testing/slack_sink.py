"""A local Slack-compatible sink: enough of the Web API for the router's Slack receiver.

``POST /api/chat.postMessage`` and ``/api/chat.update`` answer like Slack (``{"ok": true, "ts":
...}``) and are recorded; ``GET /messages`` returns them as JSON and ``GET /`` as plain text, so a
person (or the demo) sees what Slack would have shown. Point a ``slack`` receiver's ``api_url`` at
:attr:`SlackSink.api_url`. Run it on its own with ``python -m glasswatch.testing.slack_sink
--port 0``: it prints its API URL on the first line, then serves until interrupted. Stdlib only;
for tests and demos on 127.0.0.1, never a real Slack.

Examples
--------
>>> import json, urllib.request
>>> with SlackSink() as sink:
...     req = urllib.request.Request(sink.api_url + "chat.postMessage", method="POST",
...         data=json.dumps({"channel": "#ml", "text": "drift on age"}).encode(),
...         headers={"Content-Type": "application/json"})
...     answer = json.loads(urllib.request.urlopen(req).read())
...     answer["ok"], [(m.method, m.channel, m.text) for m in sink.messages]
(True, [('chat.postMessage', '#ml', 'drift on age')])
"""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["SlackMessage", "SlackSink", "main"]


@dataclass(frozen=True)
class SlackMessage:
    """One recorded call: the API method, its channel, text, blocks and thread ``ts``."""

    method: str
    channel: str
    text: str
    ts: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None

    def render(self) -> str:
        """The message as text: its ``text`` and the text of its blocks."""
        parts = [self.text]
        for block in self.blocks or []:
            for node in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
                if isinstance(node, dict) and isinstance(node.get("text"), str):
                    parts.append(node["text"])
        return "\n".join(p for p in parts if p)


class SlackSink:
    """A threaded local server recording Slack Web API calls (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.messages: list[SlackMessage] = []
        self._lock = threading.Lock()
        self._n = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with sink._lock:
                    msgs = list(sink.messages)
                if self.path.startswith("/messages"):
                    self._answer(200, json.dumps([asdict(m) for m in msgs]).encode(), "application/json")
                else:
                    text = "\n\n".join(f"[{m.method} {m.channel} ts={m.ts}]\n{m.render()}" for m in msgs)
                    self._answer(200, (text or "no messages yet").encode(), "text/plain; charset=utf-8")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.rstrip("/").rsplit("/", 1)[-1]
                if method not in ("chat.postMessage", "chat.update"):
                    self._answer(200, b'{"ok": false, "error": "unknown_method"}', "application/json")
                    return
                args = _args(raw, self.headers.get("Content-Type") or "")
                reply = sink._record(method, args)
                self._answer(200, json.dumps(reply).encode(), "application/json")

            def _answer(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _record(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        blocks = args.get("blocks")
        if isinstance(blocks, str):  # form-encoded calls carry blocks as a JSON string
            try:
                blocks = json.loads(blocks)
            except ValueError:
                blocks = None
        with self._lock:
            if method == "chat.update":
                ts = str(args.get("ts") or "")
            else:
                self._n += 1
                ts = f"1700000000.{self._n:06d}"
            thread = args.get("thread_ts")
            self.messages.append(
                SlackMessage(
                    method=method,
                    channel=channel,
                    text=str(args.get("text") or ""),
                    ts=ts,
                    blocks=blocks if isinstance(blocks, list) else None,
                    thread_ts=str(thread) if thread else None,
                )
            )
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text")}}

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The base URL for a ``slack`` receiver's ``api_url``."""
        return self.url + "/api/"

    def start(self) -> SlackSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _args(raw: bytes, content_type: str) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(text))


def main(argv: list[str] | None = None) -> None:
    """Serve a sink until interrupted; prints the API URL first (``--port 0``: a free port)."""
    parser = argparse.ArgumentParser(prog="python -m glasswatch.testing.slack_sink")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sink = SlackSink(port=args.port)
    print(sink.api_url, flush=True)
    try:
        sink._server.serve_forever(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        sink._server.server_close()


if __name__ == "__main__":
    main()
