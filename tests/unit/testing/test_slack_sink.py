"""The local Slack-compatible sink records what the real ``slack_sdk`` client posts."""

from __future__ import annotations

import json
import urllib.request

from slack_sdk import WebClient

from glasswatch.testing.slack_sink import SlackSink


def test_sink_answers_the_real_client_and_lists_messages() -> None:
    with SlackSink() as sink:
        client = WebClient(token="xoxb-test", base_url=sink.api_url)
        block = {"type": "section", "text": {"type": "mrkdwn", "text": "*WARNING* feature:age:mean"}}
        posted = client.chat_postMessage(channel="#ml", text="drift", blocks=[block])
        client.chat_update(channel="#ml", ts=posted["ts"], text="resolved")
        client.api_call("chat.postMessage", data={"channel": "#ml", "text": "form-encoded"})
        with urllib.request.urlopen(sink.url + "/messages") as resp:  # noqa: S310 (local)
            listed = json.loads(resp.read())
        with urllib.request.urlopen(sink.url + "/") as resp:  # noqa: S310 (local)
            page = resp.read().decode()
    assert posted["ok"] and posted["ts"]
    assert [(m["method"], m["text"]) for m in listed] == [
        ("chat.postMessage", "drift"),
        ("chat.update", "resolved"),
        ("chat.postMessage", "form-encoded"),
    ]
    assert listed[1]["ts"] == posted["ts"]
    assert "feature:age:mean" in sink.messages[0].render()
    assert "feature:age:mean" in page
