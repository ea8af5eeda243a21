"""The readiness probe of deploy/local_kafka speaks the Kafka protocol: request bytes, response parsing,
and a fake broker on a real socket (no Kafka needed)."""

from __future__ import annotations

import importlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest
from kafka_helpers import load_local_kafka

local_kafka = load_local_kafka()
# the module, not the function: the package exports `probe` (the function) under the module's name
probe_mod = importlib.import_module("local_kafka.probe")


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _metadata_body(brokers: list[tuple[int, str, int, str | None]], cluster_id: str | None) -> bytes:
    body = struct.pack(">ii", 0, len(brokers))  # throttle_time_ms, brokers
    for node_id, host, port, rack in brokers:
        body += struct.pack(">i", node_id) + _string(host) + struct.pack(">i", port) + _string(rack)
    return body + _string(cluster_id) + struct.pack(">ii", 1, 0)  # controller_id, topics = []


def test_a_request_frame_is_size_header_then_body() -> None:
    frame = probe_mod.encode_request(3, 4, 7, b"\x01\x02", b"abc")

    (size,) = struct.unpack(">i", frame[:4])
    assert size == len(frame) - 4
    assert struct.unpack(">hhih", frame[4:14]) == (3, 4, 7, 3)  # api key, version, correlation id, len
    assert frame[14:17] == b"abc"
    assert frame[17:] == b"\x01\x02"


def test_the_metadata_request_asks_for_no_topics_and_no_auto_creation() -> None:
    # an empty array (0), not null (-1): null would ask for every topic of the cluster
    assert probe_mod.metadata_request_v4() == b"\x00\x00\x00\x00\x00"


def test_metadata_parsing_counts_brokers_and_reads_the_cluster_id() -> None:
    body = _metadata_body(
        [(1, "127.0.0.1", 9092, None), (2, "broker-2", 9093, "rack-a")], "WHC5Ja9jQTGkJ8krIGSwbQ"
    )

    assert probe_mod.parse_metadata_v4(body) == (2, "WHC5Ja9jQTGkJ8krIGSwbQ")
    assert probe_mod.parse_metadata_v4(_metadata_body([], None)) == (0, None)


def test_a_truncated_metadata_body_is_an_error_not_a_wrong_answer() -> None:
    body = _metadata_body([(1, "127.0.0.1", 9092, None)], "cluster-id")
    with pytest.raises(struct.error):
        probe_mod.parse_metadata_v4(body[:-12])  # the cluster id is cut in the middle
    with pytest.raises(struct.error):
        probe_mod.parse_metadata_v4(body[:10])


# (api_key, version, correlation id) -> response payload; None: hang up
Answer = Callable[[int, int, int], bytes | None]


@pytest.fixture
def fake_broker() -> Iterator[Callable[[Answer], int]]:
    """A one-connection TCP server that answers each request frame with ``answer(...)``."""
    servers: list[socket.socket] = []

    def start(answer: Answer) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                while True:
                    head = conn.recv(4)
                    if len(head) < 4:
                        return
                    (size,) = struct.unpack(">i", head)
                    frame = b""
                    while len(frame) < size:
                        frame += conn.recv(size - len(frame))
                    api_key, version, correlation = struct.unpack(">hhi", frame[:8])
                    payload = answer(api_key, version, correlation)
                    if payload is None:
                        return
                    conn.sendall(struct.pack(">i", len(payload)) + payload)

        threading.Thread(target=serve, daemon=True).start()
        return int(server.getsockname()[1])

    yield start
    for server in servers:
        server.close()


def test_probe_asks_api_versions_then_metadata(fake_broker: Callable[[Answer], int]) -> None:
    asked: list[tuple[int, int]] = []

    def answer(api_key: int, version: int, correlation: int) -> bytes:
        asked.append((api_key, version))
        if api_key == 18:
            return struct.pack(">ih", correlation, 0) + struct.pack(">i", 0)  # no error, no api list
        return struct.pack(">i", correlation) + _metadata_body([(1, "127.0.0.1", 1, None)], "the-cluster")

    port = fake_broker(answer)

    assert local_kafka.probe("127.0.0.1", port, timeout=5.0) == (1, "the-cluster")
    assert asked == [(18, 0), (3, 4)]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda key, v, c: struct.pack(">ih", c, 35), "ApiVersions error code 35"),
        (lambda key, v, c: struct.pack(">ih", c + 1, 0), "correlation id mismatch"),
        (lambda key, v, c: None, "connection closed by broker"),
        (
            lambda key, v, c: struct.pack(">ih", c, 0),
            r"^struct.error: unpack_from requires",
        ),  # short metadata
    ],
    ids=["error-code", "wrong-correlation", "hang-up", "garbled-metadata"],
)
def test_a_broker_that_answers_wrong_raises_probe_error(
    fake_broker: Callable[[Answer], int], answer: Answer, message: str
) -> None:
    port = fake_broker(answer)

    with pytest.raises(local_kafka.ProbeError, match=message) as info:
        local_kafka.probe("127.0.0.1", port, timeout=5.0)

    assert isinstance(info.value, OSError)  # callers that catch OSError keep working


def test_nothing_listening_is_a_probe_error() -> None:
    port = local_kafka.free_port()

    with pytest.raises(local_kafka.ProbeError, match="ConnectionRefusedError"):
        local_kafka.probe("127.0.0.1", port, timeout=2.0)
