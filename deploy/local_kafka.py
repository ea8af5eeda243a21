"""A real single-node Kafka broker (KRaft) for development and tests, with nothing but Java and Maven.

Maven fetches the broker's runtime jars once (``deploy/kafka/pom.xml`` →
``<repo>/.cache/kafka/<version>/libs``); then ``java -cp 'libs/*' kafka.Kafka server.properties``
runs a combined broker+controller listening on 127.0.0.1 only. Standard library only, so it runs
before (and without) the project's virtualenv.

As a script::

    python deploy/local_kafka.py up     [--port 9092] [--dir .cache/kafka-run]   # prints the bootstrap
    python deploy/local_kafka.py status [--dir ...]                              # exit 0 when ready
    python deploy/local_kafka.py down   [--dir ...]
    python deploy/local_kafka.py fetch                                           # warm the jar cache

As a module::

    with LocalKafka(port=0, workdir=tmp_path) as kafka:   # port 0: pick a free port
        use(kafka.bootstrap)                              # "127.0.0.1:PORT"

``up`` and ``down`` may run in different processes: ``up`` writes ``<workdir>/kafka.pid``.
Readiness is checked with the Kafka protocol itself (ApiVersions, then a Metadata request that must
list at least one broker and answer with *our* cluster id), not just a TCP connect.

Kafka 4.1 specifics: storage is formatted by ``kafka.tools.StorageTool format --config F
--cluster-id=ID`` (what ``bin/kafka-storage.sh`` runs). The quorum is *static*
(``controller.quorum.voters=1@127.0.0.1:CPORT``), so no ``--standalone``: with a dynamic quorum
the controller endpoint would be written into the metadata log at format time and a controller
port chosen afresh at the next start would no longer match.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "DEFAULT_VERSION",
    "EnvironmentNotReady",
    "KafkaStartError",
    "LocalKafka",
    "free_port",
    "main",
    "probe",
]

DEFAULT_VERSION = "4.1.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "kafka"
DEFAULT_WORKDIR = REPO_ROOT / ".cache" / "kafka-run"
MARKER = "fetched.json"
STORAGE_TOOL = "kafka.tools.StorageTool"  # what bin/kafka-storage.sh runs in Kafka 4.x
MIN_JAVA = 17  # Kafka 4 brokers need Java 17+

_INSTALL_HINT = (
    "Install a JDK 17+ and Maven 3.6+ (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`; "
    "macOS: `brew install openjdk@17 maven`; or SDKMAN: `sdk install java 17-tem && sdk install maven`), "
    "or point the tests at an existing broker with GLASSWATCH_KAFKA_BOOTSTRAP=host:port."
)


class EnvironmentNotReady(RuntimeError):
    """A tool the local broker needs (java, mvn) is missing or too old."""


class KafkaStartError(RuntimeError):
    """The broker did not become ready; the message ends with the tail of its log."""


def _say(message: str) -> None:
    print(f"[local-kafka] {message}", file=sys.stderr, flush=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (as ``kafka-storage random-uuid``).

    Like Kafka's ``Uuid.randomUuid()`` it never starts with ``-``, which command lines would take
    for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


# --- a tiny Kafka protocol client: just enough to ask "are you up, and who are you?" ------------------


def _request(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    client_id = b"local-kafka"
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    frame = header + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    payload = _recv_exact(sock, size)
    if struct.unpack(">i", payload[:4])[0] != correlation_id:
        raise OSError("correlation id mismatch")
    return payload[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise OSError("connection closed by broker")
        chunks += chunk
    return bytes(chunks)


def probe(host: str, port: int, timeout: float = 2.0) -> tuple[int, str | None]:
    """Ask a broker for its metadata; returns ``(number of live brokers, cluster id)``.

    ApiVersions v0 first (every broker answers it), then Metadata v4 with an empty topic list.
    Raises ``OSError`` when the broker is not (yet) answering.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        body = _request(sock, 18, 0, 1, b"")  # ApiVersions v0
        (error,) = struct.unpack(">h", body[:2])
        if error != 0:
            raise OSError(f"ApiVersions error code {error}")
        # Metadata v4: topics = [] (none), allow_auto_topic_creation = false
        body = _request(sock, 3, 4, 2, struct.pack(">ib", 0, 0))
        pos = 4  # throttle_time_ms
        (n_brokers,) = struct.unpack_from(">i", body, pos)
        pos += 4
        for _ in range(n_brokers):
            pos += 4  # node_id
            (host_len,) = struct.unpack_from(">h", body, pos)
            pos += 2 + host_len + 4  # host, port
            (rack_len,) = struct.unpack_from(">h", body, pos)
            pos += 2 + max(rack_len, 0)
        (cid_len,) = struct.unpack_from(">h", body, pos)
        cluster_id = None if cid_len < 0 else body[pos + 2 : pos + 2 + cid_len].decode()
        return n_brokers, cluster_id


# --- process helpers -------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone for us
    return True


def _cmdline(pid: int) -> str:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    ps = ["ps", "-o", "command=", "-p", str(pid)]
    return subprocess.run(ps, capture_output=True, text=True, check=False).stdout


def _errors(path: Path, limit: int = 12) -> str:
    """The first ERROR/FATAL lines of a Kafka log with their exception and ``Caused by`` lines."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    picked: list[str] = []
    for i, line in enumerate(text):
        if "] ERROR " in line or "] FATAL " in line:
            picked.append(line)
            if i + 1 < len(text) and not text[i + 1].startswith("["):
                picked.append(text[i + 1])  # the exception message
        elif line.startswith("Caused by:") and line not in picked:
            picked.append(line)
        if len(picked) >= limit:
            break
    return "\n".join(picked)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text[-lines:]) or f"({path.name} is empty)"


class LocalKafka:
    """One KRaft broker+controller on 127.0.0.1, its state under ``workdir``.

    ``port=0`` picks a free port; ``controller_port=None`` picks a free controller port at each
    start (the quorum is static, ``controller.quorum.voters``, so the port may change between runs).
    ``extra_config`` adds or overrides ``server.properties`` entries. ``stop_with_parent=True``
    (tests) adds a tiny ``sh`` watchdog that stops the broker if this Python process dies without
    calling :meth:`stop` (SIGKILL, OOM), so no JVM is left behind in a temp dir.
    ``class_cache=True`` keeps a JDK class-data-sharing archive of the broker's classes next to
    the jars (written when the first broker stops cleanly, one per JDK build); later starts map it
    instead of loading and verifying ~3,000 classes again, which cuts launch-to-ready by about a
    third (the same trick as the official apache/kafka image's ``kafka.jsa``).
    """

    def __init__(
        self,
        port: int = 9092,
        controller_port: int | None = None,
        workdir: Path | str = DEFAULT_WORKDIR,
        *,
        version: str = DEFAULT_VERSION,
        cache_dir: Path | str = DEFAULT_CACHE,
        heap: str = "512m",
        cluster_id: str | None = None,
        startup_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        extra_config: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] = (),
        stop_with_parent: bool = False,
        class_cache: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.controller_port = controller_port
        self.workdir = Path(workdir).resolve()
        self.version = version
        self.cache_dir = Path(cache_dir).resolve()
        self.heap = heap
        self.cluster_id = cluster_id
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_config = dict(extra_config or {})
        self.jvm_opts = tuple(jvm_opts)
        self.stop_with_parent = stop_with_parent
        self.class_cache = class_cache
        self._cds_dump: Path | None = None
        self.timings: dict[str, float] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    # --- paths and properties ------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        return self.cache_dir / self.version / "libs"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "logs" / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "kafka.pid"

    @property
    def config_file(self) -> Path:
        return self.workdir / "server.properties"

    # --- tools ---------------------------------------------------------------------------------
    @staticmethod
    def java() -> str:
        """Path of ``java`` (``$JAVA_HOME/bin/java`` first, then ``PATH``); checks it is 17+."""
        home = os.environ.get("JAVA_HOME")
        candidate = Path(home, "bin", "java") if home else None
        java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
        if java is None:
            raise EnvironmentNotReady(f"`java` was not found (JAVA_HOME unset, not on PATH). {_INSTALL_HINT}")
        major = _java_major(_java_version(java))
        if major is not None and major < MIN_JAVA:
            raise EnvironmentNotReady(
                f"Kafka 4 needs Java {MIN_JAVA}+, but {java} is Java {major}. {_INSTALL_HINT}"
            )
        return java

    @staticmethod
    def mvn() -> str:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EnvironmentNotReady(
                f"`mvn` was not found on PATH; it is needed once to fetch the Kafka jars. {_INSTALL_HINT}"
            )
        return mvn

    # --- lifecycle -----------------------------------------------------------------------------
    def fetched(self) -> bool:
        """True when the jar cache is complete (marker written after a successful fetch)."""
        marker = self.cache_dir / self.version / MARKER
        try:
            jars = json.loads(marker.read_text())["jars"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(jars) and all((self.libs / jar).is_file() for jar in jars)

    def fetch(self) -> Path:
        """Download the broker's runtime jars with Maven, once per version; returns the libs dir."""
        if self.fetched():
            return self.libs
        self.java()
        mvn = self.mvn()
        root = self.cache_dir / self.version
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={self.version}",
               "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]  # fmt: skip
        _say(f"fetching Kafka {self.version} jars with Maven into {self.libs} (first run only) ...")
        started = time.monotonic()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(5.0):
                _say(f"... still fetching ({time.monotonic() - started:.0f}s)")

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        finally:
            done.set()
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise EnvironmentNotReady(
                f"Maven could not fetch Kafka {self.version} (exit {result.returncode}); is Maven Central "
                f"reachable (or mirrored in ~/.m2/settings.xml)?\n$ {' '.join(cmd)}\n{output}"
            )
        jars = sorted(p.name for p in staging.glob("*.jar"))
        try:
            staging.rename(self.libs)
        except OSError:  # another process finished first: keep its copy
            shutil.rmtree(staging, ignore_errors=True)
        if self.libs.is_dir():
            (root / MARKER).write_text(json.dumps({"version": self.version, "jars": jars}, indent=1))
        self.timings["fetch_s"] = time.monotonic() - started
        size = sum(p.stat().st_size for p in self.libs.glob("*.jar")) / 1e6
        _say(f"fetched {len(jars)} jars ({size:.0f} MB) in {self.timings['fetch_s']:.1f}s")
        return self.libs

    def config(self) -> dict[str, str]:
        """The ``server.properties`` entries (controller port must be known)."""
        assert self.controller_port is not None
        conf = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "4",
            "auto.create.topics.enable": "true",
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "log.retention.hours": "24",
        }
        conf.update(self.extra_config)
        return conf

    def _write_config(self) -> None:
        while self.controller_port in (None, self.port):
            self.controller_port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        lines = [f"{k}={v}" for k, v in self.config().items()]
        self.config_file.write_text("# written by deploy/local_kafka.py\n" + "\n".join(lines) + "\n")
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(
            "status = warn\n"
            "appender.file.type = File\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {self.log_file}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.state.name = state.change.logger\n"
            "logger.state.level = WARN\n"
        )

    def _cds_archive(self) -> Path:
        """The class-data-sharing archive for this Kafka version and this exact JDK build."""
        java = self.java()
        key = hashlib.sha256(f"{java}\n{_java_version(java)}".encode()).hexdigest()[:12]
        return self.libs.parent / f"kafka-{key}.jsa"

    def _cds_options(self, *, dump: bool = True) -> list[str]:
        """Use the archive when there is one, else (``dump``) ask this run to write it at a clean exit."""
        self._cds_dump = None
        if not self.class_cache:
            return []
        archive = self._cds_archive()
        quiet = "-Xlog:cds=off,cds+dynamic=off"  # skipped-class warnings would flood kafka.out
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}", quiet]
        if not dump:
            return []
        for stale in archive.parent.glob("*.jsa.tmp-*"):  # left by brokers that were killed
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > 3600:
                    stale.unlink()
        self._cds_dump = archive.with_name(f"{archive.name}.tmp-{os.getpid()}-{self.port}")
        return [f"-XX:ArchiveClassesAtExit={self._cds_dump}", quiet]

    @staticmethod
    def _finish_cds_dump(dump: Path | None, *, clean: bool) -> None:
        """Publish a dumped archive atomically; drop it if the broker did not exit cleanly."""
        if dump is None or not dump.exists():
            return
        if clean and dump.stat().st_size > 0:
            os.replace(dump, dump.with_name(dump.name.split(".tmp-")[0]))
        else:
            dump.unlink(missing_ok=True)

    def _jvm(self, main_class: str, *args: str, extra: Sequence[str] = ()) -> list[str]:
        return [
            self.java(), f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}", *extra, *self.jvm_opts,
            "-cp", str(self.libs / "*"), main_class, *args,
        ]  # fmt: skip

    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def format(self) -> str:
        """Format the KRaft storage once (static quorum, so no ``--standalone``); returns the cluster id."""
        meta = self.data_dir / "meta.properties"
        if meta.is_file():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    self.cluster_id = line.split("=", 1)[1].strip()
            return self.cluster_id or ""
        self.fetch()
        self._write_config()
        self.cluster_id = self.cluster_id or _new_cluster_id()
        started = time.monotonic()
        # `--cluster-id=ID` in one token: an id given by the caller may still start with "-"
        cmd = self._jvm(STORAGE_TOOL, "format", "--config", str(self.config_file),
                        f"--cluster-id={self.cluster_id}", "--ignore-formatted",
                        extra=self._cds_options(dump=False))  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaStartError(f"kafka storage format failed:\n{result.stdout}{result.stderr}")
        self.timings["format_s"] = time.monotonic() - started
        return self.cluster_id

    def _read_pid(self) -> dict[str, object] | None:
        try:
            info: dict[str, object] = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        pid = info.get("pid")
        if not isinstance(pid, int) or not _alive(pid):
            return None  # stale: the broker died
        cmdline = _cmdline(pid)
        if "kafka.Kafka" not in cmdline or str(self.config_file) not in cmdline:
            return None  # stale: the pid now belongs to another process
        return info

    def running(self) -> dict[str, object] | None:
        """The pid-file record of a live broker started from this workdir, else None."""
        return self._read_pid()

    def start(self) -> LocalKafka:
        """Fetch (once), format (once), launch and wait until the broker answers; idempotent."""
        info = self._read_pid()
        if info is not None:
            self.port = int(str(info["port"]))
            self.cluster_id = str(info.get("cluster_id") or "") or None
            return self
        if _port_in_use(self.port):
            raise KafkaStartError(
                f"port {self.port} on 127.0.0.1 is already in use (another broker? "
                f"`python deploy/local_kafka.py status`), choose another with --port / KAFKA_PORT"
            )
        self.fetch()
        while self.controller_port in (None, self.port):
            self.controller_port = free_port()
        self._write_config()
        self.format()
        for log in (self.log_file, self.log_file.with_name("kafka.out")):  # this run's logs only
            if log.exists():
                log.replace(log.with_name(log.name + ".prev"))
        cds = self._cds_options()
        started = time.monotonic()
        out = (self.workdir / "logs" / "kafka.out").open("wb")
        try:
            self._proc = subprocess.Popen(
                self._jvm("kafka.Kafka", str(self.config_file), extra=cds),
                cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # `up` returns; Ctrl-C in the caller's terminal does not reach it
            )  # fmt: skip
        finally:
            out.close()
        if self.stop_with_parent:
            self._watchdog = self._start_watchdog(self._proc.pid)
        self.pid_file.write_text(json.dumps({
            "pid": self._proc.pid, "port": self.port, "controller_port": self.controller_port,
            "version": self.version, "cluster_id": self.cluster_id, "started_at": time.time(),
            "cds_dump": str(self._cds_dump) if self._cds_dump else None,
        }))  # fmt: skip
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            dump, self._cds_dump = self._cds_dump, None  # classes of a failed start: not worth keeping
            self.stop()
            self._finish_cds_dump(dump, clean=False)
            raise
        self.timings["ready_s"] = time.monotonic() - started
        return self

    @staticmethod
    def _start_watchdog(pid: int) -> subprocess.Popen[bytes]:
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; "
            f"kill -TERM {pid} 2>/dev/null; i=0; "
            f"while kill -0 {pid} 2>/dev/null && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done; "
            f"kill -0 {pid} 2>/dev/null && kill -KILL {pid}"
        )
        return subprocess.Popen(
            ["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float) -> None:
        """Poll with the Kafka protocol until the broker reports itself with our cluster id."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise KafkaStartError(
                    f"the broker exited with code {self._proc.returncode} during startup\n{self._log_tails()}"
                )
            try:
                brokers, cluster_id = probe("127.0.0.1", self.port, timeout=2.0)
            except (OSError, struct.error) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if brokers >= 1 and (self.cluster_id is None or cluster_id == self.cluster_id):
                    return
                last_error = f"metadata lists {brokers} broker(s), cluster id {cluster_id!r}"
            time.sleep(0.2)
        raise KafkaStartError(
            f"the broker on {self.bootstrap} was not ready after {timeout:.0f}s ({last_error})\n"
            + self._log_tails()
        )

    def _log_tails(self) -> str:
        out = self.log_file.with_name("kafka.out")
        errors = _errors(self.log_file)
        first = f"--- first errors in {self.log_file} ---\n{errors}\n" if errors else ""
        return (
            f"{first}--- tail of {self.log_file} ---\n{_tail(self.log_file, 20)}\n"
            f"--- tail of {out} ---\n{_tail(out, 20)}"
        )

    def stop(self) -> bool:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL; returns False when nothing was running."""
        pid: int | None = self._proc.pid if self._proc is not None else None
        dump = self._cds_dump
        if pid is None:
            info = self._read_pid()
            pid = int(str(info["pid"])) if info is not None else None
            if info is not None and info.get("cds_dump"):
                dump = Path(str(info["cds_dump"]))
        if pid is None or not _alive(pid):
            self.pid_file.unlink(missing_ok=True)
            self._proc = None
            self._reap_watchdog()
            return False
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        clean = self._wait_gone(pid, self.stop_timeout)
        if not clean:
            _say(f"broker pid {pid} ignored SIGTERM for {self.stop_timeout:.0f}s, sending SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self.timings["stop_s"] = time.monotonic() - started
        self._finish_cds_dump(dump, clean=clean)
        self._cds_dump = None
        self.pid_file.unlink(missing_ok=True)
        self._proc = None
        self._reap_watchdog()
        return True

    def _reap_watchdog(self) -> None:
        if self._watchdog is not None:
            with contextlib.suppress(ProcessLookupError):
                self._watchdog.kill()  # only the sh loop: the broker is already gone
            self._watchdog.wait()
            self._watchdog = None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.1)
                    return True
            elif not _alive(pid):
                return True
            else:
                time.sleep(0.1)
        return False

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalKafka(port={self.port}, workdir={str(self.workdir)!r}, version={self.version!r})"


@functools.lru_cache(maxsize=8)
def _java_version(java: str) -> str:
    """What ``java -version`` prints (on stderr), e.g. ``openjdk version "17.0.15" 2025-04-15 ...``."""
    return subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr


def _java_major(version_output: str) -> int | None:
    """``openjdk version "17.0.15"`` → 17; ``java version "1.8.0_392"`` → 8."""
    for token in version_output.split('"')[1::2]:
        parts = token.split(".")
        with contextlib.suppress(ValueError):
            major = int(parts[0])
            return int(parts[1]) if major == 1 and len(parts) > 1 else major
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_kafka.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "fetch"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAFKA_PORT") or 9092))
    parser.add_argument("--controller-port", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=DEFAULT_WORKDIR, help="state directory (data, logs, pid)")
    parser.add_argument("--version", default=os.environ.get("KAFKA_VERSION") or DEFAULT_VERSION)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    parser.add_argument("--fresh", action="store_true", help="up: delete topics and offsets first")
    args = parser.parse_args(argv)
    kafka = LocalKafka(
        args.port, args.controller_port, args.dir, version=args.version, startup_timeout=args.timeout
    )
    try:
        if args.command == "fetch":
            print(kafka.fetch())
        elif args.command == "up":
            if kafka.running() is None and args.fresh:
                shutil.rmtree(kafka.data_dir, ignore_errors=True)
            was_running = kafka.running() is not None
            kafka.start()
            state = "already running" if was_running else f"ready in {kafka.timings.get('ready_s', 0):.1f}s"
            _say(f"Kafka {kafka.version} {state} on {kafka.bootstrap} (logs: {kafka.log_file})")
            print(kafka.bootstrap)
        elif args.command == "down":
            stopped = kafka.stop()
            _say(f"stopped in {kafka.timings['stop_s']:.1f}s" if stopped else "not running")
        else:
            info = kafka.running()
            if info is None:
                print("not running")
                return 1
            try:
                brokers, cluster_id = probe("127.0.0.1", int(str(info["port"])))
            except (OSError, struct.error) as exc:
                print(f"pid {info['pid']} alive but not answering on port {info['port']}: {exc}")
                return 1
            print(f"running pid={info['pid']} bootstrap=127.0.0.1:{info['port']} "
                  f"version={info['version']} cluster_id={cluster_id} brokers={brokers}")  # fmt: skip
    except (EnvironmentNotReady, KafkaStartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
