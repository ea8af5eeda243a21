"""What deploy/local_kafka tells the broker and the JVM, and the pid file other processes read:
pure parts, no Java or Kafka needed."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_helpers import load_local_kafka

local_kafka = load_local_kafka()
config = importlib.import_module("local_kafka.config")
jvm = importlib.import_module("local_kafka.jvm")
pidfile = importlib.import_module("local_kafka.pidfile")
fetch = importlib.import_module("local_kafka.fetch")


def test_server_config_listens_on_loopback_with_a_static_single_voter_quorum(tmp_path: Path) -> None:
    conf = config.server_config(19092, 19093, tmp_path / "data")

    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert conf["process.roles"] == "broker,controller"
    assert conf["log.dirs"] == str(tmp_path / "data")
    # one broker: replication factor 1, or the group coordinator never comes up
    assert conf["offsets.topic.replication.factor"] == "1"


def test_extra_config_overrides_and_adds_entries(tmp_path: Path) -> None:
    conf = config.server_config(1, 2, tmp_path, {"num.partitions": "1", "log.cleaner.enable": "false"})

    assert conf["num.partitions"] == "1"
    assert conf["log.cleaner.enable"] == "false"


def test_rendered_properties_are_one_key_value_line_each_after_the_header() -> None:
    text = config.render({"a.b": "1", "c": "x=y"})

    assert text == f"{config.HEADER}\na.b=1\nc=x=y\n"
    assert text.startswith("#")


def test_the_log4j_config_writes_to_the_given_file(tmp_path: Path) -> None:
    text = config.log4j2_properties(tmp_path / "logs" / "server.log")

    assert f"appender.file.fileName = {tmp_path / 'logs' / 'server.log'}\n" in text
    assert "rootLogger.level = INFO" in text


def test_the_cluster_id_is_read_back_from_meta_properties() -> None:
    assert config.read_cluster_id("node.id=1\ncluster.id=abc\nversion=1\n") == "abc"
    assert config.read_cluster_id("node.id=1\n") is None


def test_local_kafka_writes_what_config_renders(tmp_path: Path) -> None:
    kafka = local_kafka.LocalKafka(
        port=19092, controller_port=19093, workdir=tmp_path, extra_config={"x": "1"}
    )
    kafka._write_config()

    assert kafka.config_file.read_text() == config.render(
        config.server_config(19092, 19093, tmp_path / "data", {"x": "1"})
    )
    assert (tmp_path / "log4j2.properties").read_text() == config.log4j2_properties(kafka.log_file)
    assert (tmp_path / "logs").is_dir()


def test_generated_cluster_ids_are_22_char_kafka_uuids() -> None:
    ids = {config.new_cluster_id() for _ in range(200)}

    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no quotes at all", None),
    ],
)
def test_the_java_major_version_is_read_from_java_version(output: str, major: int | None) -> None:
    assert jvm.java_major(output) == major


def test_the_jvm_command_runs_the_main_class_on_the_cached_jars(tmp_path: Path) -> None:
    argv = jvm.jvm_command(
        "/opt/java", "kafka.Kafka", "server.properties", libs=tmp_path / "libs", workdir=tmp_path / "run",
        heap="256m", extra=["-Xshare:auto"], jvm_opts=["-Dmine=1"],
    )  # fmt: skip

    assert argv[0] == "/opt/java"
    assert "-Xmx256m" in argv
    assert argv[-4:] == ["-cp", str(tmp_path / "libs" / "*"), "kafka.Kafka", "server.properties"]
    assert f"-Dlog4j2.configurationFile={tmp_path / 'run' / 'log4j2.properties'}" in argv
    assert argv.index("-Xshare:auto") < argv.index("-Dmine=1")  # the caller's options come last


def test_cds_flags_map_an_existing_archive_or_dump_a_new_one(tmp_path: Path) -> None:
    archive = tmp_path / "kafka-abc.jsa"

    flags, dump = jvm.cds_flags(archive, dump=True, tag="7-9092")
    assert dump == tmp_path / "kafka-abc.jsa.tmp-7-9092"
    assert flags[0] == f"-XX:ArchiveClassesAtExit={dump}"
    assert jvm.cds_flags(archive, dump=False, tag="x") == ([], None)

    archive.write_bytes(b"classes")
    flags, dump = jvm.cds_flags(archive, dump=True, tag="7-9092")
    assert flags[0] == f"-XX:SharedArchiveFile={archive}"
    assert dump is None


def test_stale_dumps_of_killed_brokers_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    stale, fresh = tmp_path / "kafka-a.jsa.tmp-1-1", tmp_path / "kafka-a.jsa.tmp-2-2"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    jvm.cds_flags(tmp_path / "kafka-a.jsa", dump=True, tag="3-3")

    assert not stale.exists()
    assert fresh.exists()  # may belong to a broker that is running right now


def test_a_dump_is_published_after_a_clean_exit_and_dropped_otherwise(tmp_path: Path) -> None:
    dump = tmp_path / "kafka-a.jsa.tmp-1-9092"
    dump.write_bytes(b"classes")
    jvm.finish_cds_dump(dump, clean=True)
    assert (tmp_path / "kafka-a.jsa").read_bytes() == b"classes"
    assert not dump.exists()

    dump.write_bytes(b"half")
    jvm.finish_cds_dump(dump, clean=False)
    assert not dump.exists()
    assert (tmp_path / "kafka-a.jsa").read_bytes() == b"classes"
    jvm.finish_cds_dump(None, clean=True)  # nothing to do


def test_the_pid_file_keeps_the_format_earlier_launchers_wrote(tmp_path: Path) -> None:
    path = tmp_path / "kafka.pid"
    pidfile.write_record(
        path, pid=42, port=9092, controller_port=40000, version="4.1.1", cluster_id="c", cds_dump=None
    )

    record = json.loads(path.read_text())
    fields = {"pid", "port", "controller_port", "version", "cluster_id", "started_at", "cds_dump"}
    assert set(record) == fields
    assert (record["pid"], record["port"], record["cds_dump"]) == (42, 9092, None)
    assert pidfile.read_record(path) == record


def test_a_pid_file_counts_only_for_a_live_broker_with_our_config(tmp_path: Path) -> None:
    path, conf = tmp_path / "kafka.pid", tmp_path / "server.properties"
    # a live process whose command line names kafka.Kafka and our config: what `up` leaves behind
    code = "import time; time.sleep(60)"
    impostor = subprocess.Popen([sys.executable, "-c", code, "kafka.Kafka", str(conf)])
    other = subprocess.Popen([sys.executable, "-c", code])
    try:
        for pid, expected in ((impostor.pid, True), (other.pid, False)):
            path.write_text(json.dumps({"pid": pid, "port": 9092, "version": "4.1.1"}))
            assert (pidfile.live_record(path, conf) is not None) is expected
        assert pidfile.live_record(path, tmp_path / "elsewhere.properties") is None
    finally:
        impostor.kill()
        other.kill()
        impostor.wait()
        other.wait()
    path.write_text(json.dumps({"pid": impostor.pid, "port": 9092}))
    assert pidfile.live_record(path, conf) is None  # the broker died
    for garbage in ("not json", "[1, 2]", '{"pid": "12"}'):
        path.write_text(garbage)
        assert pidfile.read_record(path) is None


def test_the_jar_cache_is_complete_only_when_every_listed_jar_is_there(tmp_path: Path) -> None:
    root = tmp_path / "4.1.1"
    (root / "libs").mkdir(parents=True)
    assert not fetch.is_fetched(tmp_path, "4.1.1")  # no marker

    (root / fetch.MARKER).write_text(json.dumps({"version": "4.1.1", "jars": ["a.jar", "b.jar"]}))
    (root / "libs" / "a.jar").write_bytes(b"")
    assert not fetch.is_fetched(tmp_path, "4.1.1")  # b.jar missing

    (root / "libs" / "b.jar").write_bytes(b"")
    assert fetch.is_fetched(tmp_path, "4.1.1")
    assert local_kafka.LocalKafka(cache_dir=tmp_path, workdir=tmp_path / "run").fetched()
