"""On the real broker: a hole in a partition's offsets is read back (kafka/gaps.py), and the drift
verdicts topic is followed into the label join's book, past records anyone could have forged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from glasswatch.agents.labels import follow_into
from glasswatch.drift.verdict import DriftVerdict, VerdictBook
from glasswatch.kafka.follow import TopicFollower
from glasswatch.kafka.gaps import GapFiller, RecoveredEvent, RecoveredMessage

pytestmark = pytest.mark.integration


async def _send(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def test_the_hole_before_a_batch_is_read_back_from_kafka(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(partitions=1)
    asyncio.run(_send(kafka_bootstrap, topic, [(b"k", f"m{i}".encode()) for i in range(10)]))

    async def go() -> tuple[list[int], list[bytes | None], GapFiller]:
        filler = GapFiller(kafka_bootstrap, timeout_s=20)
        try:
            # the consumer delivered offsets 7..9; the state had applied up to 3
            batch = [RecoveredEvent(RecoveredMessage(topic, 0, o, b"k"), f"m{o}".encode()) for o in (7, 8, 9)]
            out = await filler.fill(batch, last_applied=3)
            return [e.message.offset for e in out], [e.value for e in out], filler
        finally:
            await filler.close()

    offsets, values, filler = asyncio.run(go())
    assert offsets == [4, 5, 6, 7, 8, 9]
    assert values == [f"m{i}".encode() for i in range(4, 10)]
    assert (filler.gaps, filler.recovered) == (1, 3)


def test_verdicts_are_followed_into_the_book_skipping_forged_records(kafka_bootstrap: str) -> None:
    topic = f"verdicts-{datetime.now(UTC).timestamp():.0f}-{id(object()):x}"
    t = datetime(2026, 1, 1, tzinfo=UTC)
    good = DriftVerdict(model="churn", model_version="3", window_id="a" * 16, window_end=t, drifted=False)
    newer = good.model_copy(
        update={"window_id": "b" * 16, "window_end": t + timedelta(hours=1), "drifted": True}
    )
    forged_key = good.model_copy(update={"model_version": "4"})

    async def go() -> tuple[int, int, VerdictBook]:
        feed, book = TopicFollower(kafka_bootstrap, topic), VerdictBook()
        try:
            first = await follow_into(feed, book)  # creates the topic (compacted), nothing yet
            await _send(
                kafka_bootstrap,
                topic,
                [
                    (good.key.encode(), good.model_dump_json().encode()),
                    (b"churn\x1f3", b"\x1b[2J not json"),
                    (b"churn\x1f3", None),  # a tombstone
                    (good.key.encode(), forged_key.model_dump_json().encode()),  # key and body disagree
                    (newer.key.encode(), newer.model_dump_json().encode()),
                ],
            )
            n = 0
            for _ in range(50):
                n += await follow_into(feed, book)
                if n >= 2:
                    break
                await asyncio.sleep(0.2)
            return first, n, book
        finally:
            await feed.close()

    first, n, book = asyncio.run(go())
    assert (first, n) == (0, 2)
    assert book.inputs_drifted("churn", "3") is True
    assert book.inputs_drifted("churn", "4") is None


def test_an_unreachable_broker_leaves_the_verdicts_unknown() -> None:
    book = VerdictBook()
    n = asyncio.run(follow_into(TopicFollower("127.0.0.1:9", "nowhere"), book))
    assert n == 0 and len(book) == 0
