"""The broker process: :class:`LocalKafka` writes its config, formats, starts, waits, stops.

``start`` and ``stop`` may run in different processes; they meet in ``<workdir>/kafka.pid``
(:mod:`local_kafka.pidfile`). What a failed broker said: :mod:`local_kafka.logs`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from . import config, jvm, pidfile
from .console import say
from .errors import KafkaStartError
from .fetch import DEFAULT_CACHE, DEFAULT_VERSION, REPO_ROOT, fetch_jars, find_mvn, is_fetched
from .host import alive, free_port, port_in_use, start_watchdog
from .logs import log_tails
from .probe import probe

__all__ = ["DEFAULT_WORKDIR", "LocalKafka"]

DEFAULT_WORKDIR = REPO_ROOT / ".cache" / "kafka-run"


class LocalKafka:
    """One KRaft broker+controller on 127.0.0.1, its state under ``workdir``.

    ``port=0`` picks a free port; ``controller_port=None`` picks a free controller port at each
    start (the quorum is static, ``controller.quorum.voters``, so the port may change between runs).
    ``extra_config`` adds or overrides ``server.properties`` entries. ``stop_with_parent=True``
    (tests) adds a tiny ``sh`` watchdog that stops the broker if this Python process dies without
    calling :meth:`stop` (SIGKILL, OOM), so no JVM is left behind in a temp dir.
    ``class_cache=True`` keeps a JDK class-data-sharing archive of the broker's classes next to
    the jars (see :mod:`local_kafka.jvm`).
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
        self.timings: dict[str, float] = {}
        self._cds_dump: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    # --- paths ---------------------------------------------------------------------------------
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

    # --- tools and jars ------------------------------------------------------------------------
    java = staticmethod(jvm.find_java)
    mvn = staticmethod(find_mvn)

    def fetched(self) -> bool:
        """True when the jar cache is complete (marker written after a successful fetch)."""
        return is_fetched(self.cache_dir, self.version)

    def fetch(self) -> Path:
        """Download the broker's runtime jars with Maven, once per version; returns the libs dir."""
        libs, spent = fetch_jars(self.cache_dir, self.version)
        if spent:
            self.timings["fetch_s"] = spent
        return libs

    # --- configuration and storage -------------------------------------------------------------
    def config(self) -> dict[str, str]:
        """The ``server.properties`` entries (controller port must be known)."""
        assert self.controller_port is not None
        return config.server_config(self.port, self.controller_port, self.data_dir, self.extra_config)

    def _write_config(self) -> None:
        while self.controller_port in (None, self.port):
            self.controller_port = free_port()
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(config.render(self.config()))
        (self.workdir / "log4j2.properties").write_text(config.log4j2_properties(self.log_file))

    def _jvm(self, main_class: str, *args: str, extra: Sequence[str] = ()) -> list[str]:
        return jvm.jvm_command(
            self.java(), main_class, *args, libs=self.libs, workdir=self.workdir, heap=self.heap,
            extra=extra, jvm_opts=self.jvm_opts,
        )  # fmt: skip

    def _cds_options(self, *, dump: bool = True) -> list[str]:
        """Map the class-data archive when there is one, else (``dump``) have this run write it."""
        self._cds_dump = None
        if not self.class_cache:
            return []
        archive = jvm.cds_archive(self.java(), self.libs)
        flags, self._cds_dump = jvm.cds_flags(archive, dump=dump, tag=f"{os.getpid()}-{self.port}")
        return flags

    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def format(self) -> str:
        """Format the KRaft storage once (static quorum, so no ``--standalone``); returns the cluster id."""
        meta = self.data_dir / "meta.properties"
        if meta.is_file():
            self.cluster_id = config.read_cluster_id(meta.read_text()) or self.cluster_id
            return self.cluster_id or ""
        self.fetch()
        self._write_config()
        self.cluster_id = self.cluster_id or config.new_cluster_id()
        started = time.monotonic()
        # `--cluster-id=ID` in one token: an id given by the caller may still start with "-"
        cmd = self._jvm(jvm.STORAGE_TOOL, "format", "--config", str(self.config_file),
                        f"--cluster-id={self.cluster_id}", "--ignore-formatted",
                        extra=self._cds_options(dump=False))  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaStartError(f"kafka storage format failed:\n{result.stdout}{result.stderr}")
        self.timings["format_s"] = time.monotonic() - started
        return self.cluster_id

    # --- lifecycle -----------------------------------------------------------------------------
    def running(self) -> dict[str, object] | None:
        """The pid-file record of a live broker started from this workdir, else None."""
        return pidfile.live_record(self.pid_file, self.config_file)

    def start(self) -> LocalKafka:
        """Fetch (once), format (once), launch and wait until the broker answers; idempotent."""
        info = self.running()
        if info is not None:
            self.port = int(str(info["port"]))
            self.cluster_id = str(info.get("cluster_id") or "") or None
            return self
        if port_in_use(self.port):
            raise KafkaStartError(
                f"port {self.port} on 127.0.0.1 is already in use (another broker? "
                f"`python deploy/local_kafka status`), choose another with --port / KAFKA_PORT"
            )
        self.fetch()
        self._write_config()
        self.format()
        for log in (self.log_file, self.log_file.with_name("kafka.out")):  # this run's logs only
            if log.exists():
                log.replace(log.with_name(log.name + ".prev"))
        cds = self._cds_options()
        started = time.monotonic()
        with (self.workdir / "logs" / "kafka.out").open("wb") as out:
            self._proc = subprocess.Popen(
                self._jvm(jvm.BROKER_MAIN, str(self.config_file), extra=cds),
                cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # `up` returns; Ctrl-C in the caller's terminal does not reach it
            )  # fmt: skip
        if self.stop_with_parent:
            self._watchdog = start_watchdog(os.getpid(), self._proc.pid)
        pidfile.write_record(
            self.pid_file, pid=self._proc.pid, port=self.port, controller_port=self.controller_port,
            version=self.version, cluster_id=self.cluster_id, cds_dump=self._cds_dump,
        )  # fmt: skip
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            dump, self._cds_dump = self._cds_dump, None  # classes of a failed start: not worth keeping
            self.stop()
            jvm.finish_cds_dump(dump, clean=False)
            raise
        self.timings["ready_s"] = time.monotonic() - started
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll with the Kafka protocol until the broker reports itself with our cluster id."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise KafkaStartError(
                    f"the broker exited with code {self._proc.returncode} during startup\n"
                    + log_tails(self.log_file)
                )
            try:
                brokers, cluster_id = probe("127.0.0.1", self.port, timeout=2.0)
            except OSError as exc:  # ProbeError
                last_error = str(exc)
            else:
                if brokers >= 1 and (self.cluster_id is None or cluster_id == self.cluster_id):
                    return
                last_error = f"metadata lists {brokers} broker(s), cluster id {cluster_id!r}"
            time.sleep(0.2)
        raise KafkaStartError(
            f"the broker on {self.bootstrap} was not ready after {timeout:.0f}s ({last_error})\n"
            + log_tails(self.log_file)
        )

    def stop(self) -> bool:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL; returns False when nothing was running."""
        pid: int | None = self._proc.pid if self._proc is not None else None
        dump = self._cds_dump
        if pid is None:
            info = self.running()
            pid = int(str(info["pid"])) if info is not None else None
            if info is not None and info.get("cds_dump"):
                dump = Path(str(info["cds_dump"]))
        if pid is None or not alive(pid):
            self._forget()
            return False
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        clean = self._wait_gone(pid, self.stop_timeout)
        if not clean:
            say(f"broker pid {pid} ignored SIGTERM for {self.stop_timeout:.0f}s, sending SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self.timings["stop_s"] = time.monotonic() - started
        jvm.finish_cds_dump(dump, clean=clean)
        self._cds_dump = None
        self._forget()
        return True

    def _forget(self) -> None:
        """Drop the pid file, the process handle and the watchdog (only the sh loop: the broker is gone)."""
        self.pid_file.unlink(missing_ok=True)
        self._proc = None
        if self._watchdog is not None:
            with contextlib.suppress(ProcessLookupError):
                self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.1)
                    return True
            elif not alive(pid):
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
