"""Hostile producers against a real broker and a real worker (issue 9, items 1-4 and 8).

One worker reads four input partitions; each partition gets one attack, written before the
worker starts, so every message has a known offset:

* partition 0 (model ``poison``): 999 good events and, at offset 501, an event whose feature is
  a 400-digit integer — it once crashed the agent, lost ~540 good events or stalled the partition;
* partition 1 (model ``huge``): a feature value of ``1e200`` — its square overflowed a window
  aggregate and froze the window frontier for good;
* partition 2 (model ``victim``): forged ticks (year 9999 UTC and ``-14:00``, no or a bogus
  signature) between good events — they once closed 4,004 empty windows, fired ``event_rate``
  and made every later event ``late``;
* partition 3 (model ``flood``): one ~850 kB batch envelope of 10,000 bad items (it once wrote
  3.5 GB of dead letters), then good events and one late event.

Every event sent is counted exactly once: accepted + rejected (by reason) = sent.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from glasswatch.commands.dlq import read_topic_json, render_letters
from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
from glasswatch.kafka.reader import read_topic
from glasswatch.schemas import DeadLetter

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
HUGE_AT = 500  # index of the 1e200 event in partition 1
FORGED = [
    (b'{"type":"tick","event_time":"9999-12-31T23:59:59Z"}', []),
    (b'{"type":"tick","event_time":"9999-12-31T23:59:59-14:00"}', []),
    (b'{"type":"tick","event_time":"9999-12-31T23:59:59Z"}', [("glasswatch-tick", b"0" * 64)]),
]


def _event(model: str, i: int, *, at: datetime | None = None, **features: Any) -> dict[str, Any]:
    return {
        "type": "prediction",
        "model": model,
        "model_version": "1",
        "prediction_id": f"{model}-{i}",
        "event_time": (at or START + timedelta(seconds=i / 10)).isoformat().replace("+00:00", "Z"),
        "features": {"x": (i % 17) / 3.0, "seg": "abc"[i % 3], **features},
        "prediction": (i % 10) / 10.0,
    }


def _plan() -> dict[int, list[tuple[bytes, list[tuple[str, bytes]]]]]:
    """Per partition, the messages (value, headers) in offset order."""
    poison = [orjson.dumps(_event("poison", i)) for i in range(1000)]
    doc = _event("poison", 501)
    doc["features"]["x"] = int("9" * 400)  # orjson refuses such an int; json writes it
    poison[501] = json.dumps(doc).encode()
    huge = [orjson.dumps(_event("huge", i, **({"x": 1e200} if i == HUGE_AT else {}))) for i in range(3000)]
    victim: list[tuple[bytes, list[tuple[str, bytes]]]] = [
        (orjson.dumps(_event("victim", i)), []) for i in range(1000)
    ]
    victim += FORGED
    victim += [(orjson.dumps(_event("victim", i)), []) for i in range(1000, 2000)]
    items: list[dict[str, Any]] = [
        {"type": "prediction", "model": "flood", "prediction_id": f"f{i:06d}", "features": {"x": i}}
        for i in range(10_000)
    ]  # each lacks model_version and event_time: missing_field
    spare = (850_000 - len(orjson.dumps({"type": "batch", "events": items}))) // 10_000 - 8
    if spare > 0:
        for it in items:
            it["features"]["p"] = "y" * spare
    envelope = orjson.dumps({"type": "batch", "events": items})
    flood = [envelope] + [orjson.dumps(_event("flood", i)) for i in range(3000)]
    flood.append(orjson.dumps(_event("flood", 3000, at=START - timedelta(minutes=30))))  # late
    return {
        0: [(v, []) for v in poison],
        1: [(v, []) for v in huge],
        2: victim,
        3: [(v, []) for v in flood],
    }


async def _send(
    bootstrap: str, topic: str, plan: dict[int, list[tuple[bytes, list[tuple[str, bytes]]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024, acks="all")
    await producer.start()
    try:
        for partition, msgs in plan.items():
            model = {0: b"poison", 1: b"huge", 2: b"victim", 3: b"flood"}[partition]
            sent = [
                await producer.send(topic, value, key=model, partition=partition, headers=headers or None)
                for value, headers in msgs
            ]
            await asyncio.gather(*sent)  # every record stored (a refused one fails the test here)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    w = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("hostile"), partitions=4)
    w.extra_env = {"GLASSWATCH_WORKER__IDLE_TICK_S": "0"}  # no ticks of its own: offsets stay known
    asyncio.run(ensure_topics(kafka_bootstrap, glasswatch_topics(w.settings)))
    plan = _plan()
    topic = w.settings.topics.predictions
    asyncio.run(_send(kafka_bootstrap, topic, plan))
    sent = sum(len(m) for m in plan.values()) - 1 + 10_000  # the envelope holds 10,000 events
    w.start()
    try:
        t0 = time.monotonic()
        snap = w.wait_for(lambda s: s["accepted"] + s["rejected"] >= sent, timeout_s=240)
        elapsed = time.monotonic() - t0
        time.sleep(3)  # let the last batch's outputs land
        snap = w.wait_for(lambda s: True)
        s = w.settings
        letters = [
            DeadLetter.model_validate(d)
            for d in asyncio.run(read_topic_json(kafka_bootstrap, s.topics.dead_letters))
        ]
        dlq = asyncio.run(read_topic(kafka_bootstrap, s.topics.dead_letters))
        windows = asyncio.run(read_topic_json(kafka_bootstrap, s.topics.windows))
        alerts = asyncio.run(read_topic_json(kafka_bootstrap, s.topics.alerts))
        yield {"w": w, "snap": snap, "sent": sent, "letters": letters, "dlq": dlq, "windows": windows,
               "alerts": alerts, "plan": plan, "elapsed": elapsed}  # fmt: skip
    finally:
        w.stop()


def _letters(run: dict[str, Any], partition: int) -> list[DeadLetter]:
    return [d for d in run["letters"] if d.source_partition == partition]


def test_every_event_is_counted_once_and_the_worker_survives(run: dict[str, Any]) -> None:
    snap = run["snap"]
    assert run["w"].alive
    assert snap["accepted"] + snap["rejected"] == run["sent"]
    assert snap["rejects"]["late"] == 1  # counted as rejected, not accepted
    assert snap["rejects"]["forged_tick"] == len(FORGED)
    assert snap["rejected"] == sum(d.rejected for d in run["letters"])  # one count per letter item
    with urllib.request.urlopen(run["w"].url + "/metrics", timeout=30) as resp:  # noqa: S310 (local worker)
        text = resp.read().decode("utf-8")
    samples = {
        (m.name, tuple(sorted(m.labels.items()))): m.value
        for f in text_string_to_metric_families(text)
        for m in f.samples
    }
    rejected = {
        dict(k)["reason"]: v for (n, k), v in samples.items() if n == "glasswatch_events_rejected_total"
    }
    assert samples["glasswatch_events_accepted_total", ()] + sum(rejected.values()) == run["sent"]
    assert rejected["late"] == 1 and rejected["forged_tick"] == len(FORGED)
    log = run["w"].log_path.read_text(errors="replace")
    assert "monitors failed" not in log


def test_a_400_digit_integer_costs_only_its_own_message(run: dict[str, Any]) -> None:
    model = run["snap"]["models"]["poison"]
    assert model["events"] == {"prediction": 999}
    assert model["features"]["x"]["count"] == 999
    (letter,) = _letters(run, 0)
    assert letter.source_offset == 501 and letter.reason in ("invalid", "out_of_range")
    assert "Traceback" not in letter.detail
    assert run["snap"]["partitions"][f"{run['w'].settings.topics.predictions}:0"]["last_offset"] == 999


def test_a_huge_finite_value_does_not_switch_the_monitors_off(run: dict[str, Any]) -> None:
    hostile = START + timedelta(seconds=HUGE_AT / 10)
    ws = [w for w in run["windows"] if w["model"] == "huge" and w["stream"] == "events"]
    ends = sorted(datetime.fromisoformat(w["end"]) for w in ws)
    assert len(ws) >= 4, ws
    assert ends[-1] >= hostile + timedelta(seconds=180)  # windows kept closing after it
    x = [w for w in run["windows"] if w["model"] == "huge" and w["stream"] == "feature:x"]
    assert all(w["mean"] is None or abs(w["mean"]) < 1e300 for w in x)


def test_forged_ticks_are_dead_lettered_and_move_nothing(run: dict[str, Any]) -> None:
    letters = _letters(run, 2)
    assert sorted((d.source_offset, d.reason) for d in letters) == [
        (1000, "forged_tick"),
        (1001, "forged_tick"),
        (1002, "forged_tick"),
    ]
    assert run["snap"]["models"]["victim"]["events"] == {"prediction": 2000}  # none late
    ws = [w for w in run["windows"] if w["model"] == "victim" and w["stream"] == "events"]
    assert ws and all(w["count"] > 0 for w in ws)  # no empty windows
    horizon = datetime.now(UTC) + timedelta(hours=1)
    assert all(datetime.fromisoformat(w["end"]) < horizon for w in ws)
    kinds = {a["kind"] for a in run["alerts"] if a["model"] == "victim"}
    assert not kinds & {"event_rate", "upstream_outage", "drift_detector"}, kinds


def test_a_batch_of_ten_thousand_bad_items_costs_o_message(run: dict[str, Any]) -> None:
    envelope = run["plan"][3][0][0]
    assert 800_000 <= len(envelope) <= 900_000
    flood = _letters(run, 3)
    batch = [d for d in flood if d.source_offset == 0]
    assert len(batch) == 1 and batch[0].rejected == 10_000
    assert Counter(r for _, r in batch[0].rejected_items()) == {"missing_field": 10_000}
    written = sum(
        len(m.value) for m in run["dlq"] if DeadLetter.model_validate_json(m.value).source_partition == 3
    )
    assert written <= 2 * len(envelope)  # bytes on the real topic (it once was ~4,100x)
    assert run["snap"]["rejects"]["missing_field"] == 10_000
    assert run["snap"]["models"]["flood"]["events"] == {"prediction": 3000}  # the partition went on
    assert [d.reason for d in flood if d.source_offset != 0] == ["late"]
    assert run["elapsed"] < 180
    text = render_letters([d.model_dump(mode="json") for d in run["letters"]], "dlq")
    assert "missing_field: 10000" in text and "forged_tick: 3" in text
