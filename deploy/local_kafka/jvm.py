"""The JVM side: find ``java`` (17+), build the broker's command line, keep a class-data archive.

The class-data-sharing (CDS) archive holds the broker's classes as the JVM loaded them; it is
written by the first broker that stops cleanly (``-XX:ArchiveClassesAtExit``), one per Kafka
version and JDK build, and mapped by every later start (``-XX:SharedArchiveFile``), which cuts
launch-to-ready by about a third (the official apache/kafka image ships ``kafka.jsa`` for the same
reason).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import INSTALL_HINT, EnvironmentNotReady

__all__ = [
    "BROKER_MAIN",
    "MIN_JAVA",
    "STORAGE_TOOL",
    "cds_archive",
    "cds_flags",
    "find_java",
    "finish_cds_dump",
    "java_major",
    "java_version",
    "jvm_command",
]

MIN_JAVA = 17  # Kafka 4 brokers need Java 17+
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"  # what bin/kafka-storage.sh runs in Kafka 4.x
_QUIET_CDS = "-Xlog:cds=off,cds+dynamic=off"  # skipped-class warnings would flood kafka.out
_STALE_DUMP_S = 3600.0


def find_java() -> str:
    """Path of ``java`` (``$JAVA_HOME/bin/java`` first, then ``PATH``); checks it is 17+."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", "java") if home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if java is None:
        raise EnvironmentNotReady(f"`java` was not found (JAVA_HOME unset, not on PATH). {INSTALL_HINT}")
    major = java_major(java_version(java))
    if major is not None and major < MIN_JAVA:
        raise EnvironmentNotReady(
            f"Kafka 4 needs Java {MIN_JAVA}+, but {java} is Java {major}. {INSTALL_HINT}"
        )
    return java


@functools.lru_cache(maxsize=8)
def java_version(java: str) -> str:
    """What ``java -version`` prints (on stderr), e.g. ``openjdk version "17.0.15" 2025-04-15 ...``."""
    return subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr


def java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output, None when there is none.

    >>> java_major('openjdk version "17.0.15" 2025-04-15'), java_major('java version "1.8.0_392"')
    (17, 8)
    """
    for token in version_output.split('"')[1::2]:
        parts = token.split(".")
        with contextlib.suppress(ValueError):
            major = int(parts[0])
            return int(parts[1]) if major == 1 and len(parts) > 1 else major
    return None


def jvm_command(
    java: str,
    main_class: str,
    *args: str,
    libs: Path,
    workdir: Path,
    heap: str = "512m",
    extra: Sequence[str] = (),
    jvm_opts: Sequence[str] = (),
) -> list[str]:
    """The argv that runs ``main_class`` on the jars in ``libs`` with logs under ``workdir/logs``.

    ``extra`` (CDS flags) comes before ``jvm_opts`` (the caller's), so the caller has the last word.
    """
    return [
        java, f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-Dlog4j2.shutdownHookEnabled=false",
        f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={workdir / 'logs'}", *extra, *jvm_opts,
        "-cp", str(libs / "*"), main_class, *args,
    ]  # fmt: skip


def cds_archive(java: str, libs: Path) -> Path:
    """The class-data-sharing archive for the jars in ``libs`` and this exact JDK build."""
    key = hashlib.sha256(f"{java}\n{java_version(java)}".encode()).hexdigest()[:12]
    return libs.parent / f"kafka-{key}.jsa"


def cds_flags(archive: Path, *, dump: bool, tag: str) -> tuple[list[str], Path | None]:
    """JVM flags for ``archive``, and where this run dumps a new one (None when it does not).

    Uses the archive when there is one; else, with ``dump``, asks the JVM to write it at a clean exit
    to ``<archive>.tmp-<tag>`` (published by :func:`finish_cds_dump`). Dumps left by brokers that
    were killed more than an hour ago are removed on the way.
    """
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", _QUIET_CDS], None
    if not dump:
        return [], None
    for stale in archive.parent.glob("*.jsa.tmp-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > _STALE_DUMP_S:
                stale.unlink()
    target = archive.with_name(f"{archive.name}.tmp-{tag}")
    return [f"-XX:ArchiveClassesAtExit={target}", _QUIET_CDS], target


def finish_cds_dump(dump: Path | None, *, clean: bool) -> None:
    """Publish a dumped archive atomically under its final name; drop it after an unclean exit."""
    if dump is None or not dump.exists():
        return
    if clean and dump.stat().st_size > 0:
        os.replace(dump, dump.with_name(dump.name.split(".tmp-")[0]))
    else:
        dump.unlink(missing_ok=True)
