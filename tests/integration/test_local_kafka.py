"""The local KRaft broker (deploy/local_kafka/) really works: topics, produce/consume, up/status/down."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from kafka_helpers import REPO_ROOT, create_topic, create_topic_sync, load_local_kafka, unique_topic

local_kafka = load_local_kafka()
PACKAGE = REPO_ROOT / "deploy" / "local_kafka"  # `python deploy/local_kafka ...`, as the justfile runs it


async def _roundtrip(bootstrap: str, topic: str, n: int) -> list[tuple[int, bytes, dict[str, int]]]:
    await create_topic(bootstrap, topic, partitions=3)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 3

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for i in range(n):
            key = f"key-{i % 10}".encode()
            await producer.send(topic, key=key, value=json.dumps({"seq": i, "key": i % 10}).encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=unique_topic("group"),  # a real consumer group: exercises the group coordinator too
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[int, bytes, dict[str, int]]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < n:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    received.extend((r.partition, r.key or b"", json.loads(r.value or b"")) for r in records)
        extra = await consumer.getmany(timeout_ms=500)  # nothing beyond what was produced
        assert sum(len(v) for v in extra.values()) == 0
    finally:
        await consumer.stop()
    return received


@pytest.mark.integration
def test_produce_and_consume_100_messages_over_3_partitions(kafka_bootstrap: str) -> None:
    received = asyncio.run(_roundtrip(kafka_bootstrap, unique_topic("roundtrip"), 100))

    assert len(received) == 100
    assert sorted(value["seq"] for _, _, value in received) == list(range(100))
    assert all(key == f"key-{value['key']}".encode() for _, key, value in received)
    assert {partition for partition, _, _ in received} == {0, 1, 2}  # 10 keys hash to all 3
    by_key: dict[bytes, list[int]] = {}
    for partition, key, value in received:
        by_key.setdefault(key, []).append(value["seq"])
        assert partition == next(p for p, k, _ in received if k == key)  # one key, one partition
    assert all(seqs == sorted(seqs) for seqs in by_key.values())  # per-key order is kept


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(PACKAGE), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, check=False)


@pytest.mark.integration
def test_up_status_down_from_separate_processes(tmp_path: Path) -> None:
    workdir = str(tmp_path / "run")
    port = local_kafka.free_port()
    try:
        up = _cli("up", "--port", str(port), "--dir", workdir)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"127.0.0.1:{port}"
        pid = json.loads((tmp_path / "run" / "kafka.pid").read_text())["pid"]

        status = _cli("status", "--dir", workdir)
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"running pid={pid} bootstrap=127.0.0.1:{port}" in status.stdout
        assert local_kafka.probe("127.0.0.1", port)[0] == 1  # answers the Kafka protocol, one broker

        again = _cli("up", "--port", str(port), "--dir", workdir)  # idempotent
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr

        down = _cli("down", "--dir", workdir)
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stderr
        assert not local_kafka.host.alive(pid)
        assert not (tmp_path / "run" / "kafka.pid").exists()

        after = _cli("status", "--dir", workdir)
        assert after.returncode == 1
        assert after.stdout.strip() == "not running"
        assert "not running" in _cli("down", "--dir", workdir).stderr
    finally:
        local_kafka.LocalKafka(workdir=workdir).stop()


def test_missing_java_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    kafka = local_kafka.LocalKafka(port=0, workdir=tmp_path / "run", cache_dir=tmp_path / "cache")

    with pytest.raises(local_kafka.EnvironmentNotReady, match=r"`java` was not found") as info:
        kafka.start()

    assert isinstance(info.value, RuntimeError)
    assert "apt-get install" in str(info.value)
    assert "GLASSWATCH_KAFKA_BOOTSTRAP" in str(info.value)
    assert not kafka.pid_file.exists()


def test_missing_java_from_the_cli_exits_2_with_the_hint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"} | {"PATH": str(tmp_path)}
    result = _cli("up", "--port", str(local_kafka.free_port()), "--dir", str(tmp_path / "run"), env=env)

    assert result.returncode == 2
    assert "error: `java` was not found" in result.stderr
    assert "apt-get install" in result.stderr


def test_missing_maven_on_first_fetch_gives_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    java = local_kafka.LocalKafka.java()  # the real one; this test is about mvn only
    only_java = tmp_path / "bin"
    only_java.mkdir()
    (only_java / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(only_java))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    kafka = local_kafka.LocalKafka(port=0, workdir=tmp_path / "run", cache_dir=tmp_path / "empty-cache")

    with pytest.raises(local_kafka.EnvironmentNotReady, match=r"`mvn` was not found"):
        kafka.fetch()


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        kafka = local_kafka.LocalKafka(port=port, workdir=tmp_path / "run", cache_dir=tmp_path / "cache")

        with pytest.raises(local_kafka.KafkaStartError, match=rf"port {port} on 127.0.0.1 is already in use"):
            kafka.start()

    assert not (tmp_path / "cache").exists()  # refused before any fetch


@pytest.mark.integration
def test_a_broker_that_dies_during_startup_reports_the_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # lose the race on purpose: the port looks free, the JVM then fails to bind it
    monkeypatch.setattr(local_kafka.process, "port_in_use", lambda *_args, **_kw: False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        kafka = local_kafka.LocalKafka(port=taken.getsockname()[1], workdir=tmp_path / "run")

        with pytest.raises(local_kafka.KafkaStartError) as info:
            kafka.start()

    message = str(info.value)
    assert "the broker exited with code" in message
    assert "--- first errors in" in message
    assert "Address already in use" in message
    assert not kafka.pid_file.exists()


_OWNER = """
import sys, time
from glasswatch.commands.demo import load_local_kafka
kafka = load_local_kafka().LocalKafka(port=0, workdir={workdir!r}, stop_with_parent=True).start()
print(kafka._proc.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.integration
def test_a_test_broker_does_not_outlive_a_killed_owner(tmp_path: Path) -> None:
    code = _OWNER.format(workdir=str(tmp_path / "run"))
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        broker_pid = int(owner.stdout.readline())
        assert local_kafka.host.alive(broker_pid)
        owner.kill()  # SIGKILL: no finaliser, no atexit
        owner.wait()
        deadline = time.monotonic() + 30
        while local_kafka.host.alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not local_kafka.host.alive(broker_pid)
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
        local_kafka.LocalKafka(workdir=tmp_path / "run").stop()


@pytest.mark.integration
def test_new_topic_creates_the_partitions_and_refuses_duplicates(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    name = new_topic(partitions=5, prefix="helpers")

    async def describe() -> dict[str, Any]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            (topic,) = await admin.describe_topics([name])
            return dict(topic)
        finally:
            await admin.close()

    topic = asyncio.run(describe())
    assert name.startswith("helpers-")
    assert sorted(p["partition"] for p in topic["partitions"]) == [0, 1, 2, 3, 4]
    assert all(p["leader"] == 1 for p in topic["partitions"])
    with pytest.raises(RuntimeError, match=r"error 36"):  # TOPIC_ALREADY_EXISTS
        create_topic_sync(kafka_bootstrap, name, 5)
    create_topic_sync(kafka_bootstrap, name, 5, exist_ok=True)


def test_generated_cluster_ids_are_kafka_uuids_that_never_look_like_an_option() -> None:
    ids = [local_kafka.config.new_cluster_id() for _ in range(2000)]

    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)


@pytest.mark.integration
def test_a_given_cluster_id_starting_with_a_dash_still_formats(tmp_path: Path) -> None:
    # found by chance: 1 random id in 64 starts with "-" and `--cluster-id -x...` is read as an option
    with local_kafka.LocalKafka(port=0, workdir=tmp_path, cluster_id="-Ld5mF2-Ty-BjEeEgN2kow") as kafka:
        assert local_kafka.probe("127.0.0.1", kafka.port) == (1, "-Ld5mF2-Ty-BjEeEgN2kow")
    assert not kafka.pid_file.exists()


@pytest.mark.integration
def test_class_data_archive_is_written_at_the_first_clean_stop_then_reused(tmp_path: Path) -> None:
    shared = local_kafka.LocalKafka(port=0, workdir=tmp_path / "unused")
    shared.fetch()
    cache = tmp_path / "cache" / shared.version
    cache.mkdir(parents=True)
    (cache / "libs").symlink_to(shared.libs)  # same jars, private archive
    (cache / local_kafka.MARKER).write_text((shared.libs.parent / local_kafka.MARKER).read_text())

    first = local_kafka.LocalKafka(port=0, workdir=tmp_path / "a", cache_dir=tmp_path / "cache")
    with first:
        dump = json.loads(first.pid_file.read_text())["cds_dump"]
        assert dump is not None
        assert "-XX:ArchiveClassesAtExit=" in local_kafka.host.cmdline(first._proc.pid)
    archives = sorted(p.name for p in cache.iterdir() if ".jsa" in p.name)
    assert len(archives) == 1
    assert archives[0].endswith(".jsa")  # published under its final name, no .tmp- left

    second = local_kafka.LocalKafka(port=0, workdir=tmp_path / "b", cache_dir=tmp_path / "cache")
    with second:
        assert json.loads(second.pid_file.read_text())["cds_dump"] is None
        assert f"-XX:SharedArchiveFile={cache / archives[0]}" in local_kafka.host.cmdline(second._proc.pid)
        assert local_kafka.probe("127.0.0.1", second.port)[0] == 1
    assert (second.log_file.with_name("kafka.out")).read_text() == ""  # no CDS warnings on stdout
