"""The broker's runtime jars, fetched once per version by Maven into a shared cache.

``mvn dependency:copy-dependencies`` on ``deploy/kafka/pom.xml`` copies them into a staging
directory that is renamed to ``<cache>/<version>/libs`` (atomic: a concurrent fetch keeps the first
copy); a marker file listing the jars, written last, says the cache is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from .console import say
from .errors import INSTALL_HINT, EnvironmentNotReady
from .jvm import find_java

__all__ = [
    "DEFAULT_CACHE",
    "DEFAULT_VERSION",
    "MARKER",
    "POM",
    "REPO_ROOT",
    "fetch_jars",
    "find_mvn",
    "is_fetched",
]

DEFAULT_VERSION = "4.1.1"
_DEPLOY = Path(__file__).resolve().parent.parent
REPO_ROOT = _DEPLOY.parent
POM = _DEPLOY / "kafka" / "pom.xml"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "kafka"
MARKER = "fetched.json"


def find_mvn() -> str:
    """Path of ``mvn`` on ``PATH``."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EnvironmentNotReady(
            f"`mvn` was not found on PATH; it is needed once to fetch the Kafka jars. {INSTALL_HINT}"
        )
    return mvn


def is_fetched(cache_dir: Path, version: str) -> bool:
    """True when ``<cache_dir>/<version>`` holds every jar its marker lists."""
    root = cache_dir / version
    try:
        jars = json.loads((root / MARKER).read_text())["jars"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(jars) and all((root / "libs" / jar).is_file() for jar in jars)


def fetch_jars(cache_dir: Path, version: str) -> tuple[Path, float]:
    """Download Kafka ``version``'s runtime jars unless cached; returns ``(libs dir, seconds spent)``."""
    root = cache_dir / version
    libs = root / "libs"
    if is_fetched(cache_dir, version):
        return libs, 0.0
    find_java()  # no point fetching 100 MB for a machine that cannot run them
    mvn = find_mvn()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f"libs.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
           "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]  # fmt: skip
    say(f"fetching Kafka {version} jars with Maven into {libs} (first run only) ...")
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(5.0):
            say(f"... still fetching ({time.monotonic() - started:.0f}s)")

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        done.set()
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise EnvironmentNotReady(
            f"Maven could not fetch Kafka {version} (exit {result.returncode}); is Maven Central "
            f"reachable (or mirrored in ~/.m2/settings.xml)?\n$ {' '.join(cmd)}\n{output}"
        )
    jars = sorted(p.name for p in staging.glob("*.jar"))
    try:
        staging.rename(libs)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    if libs.is_dir():
        (root / MARKER).write_text(json.dumps({"version": version, "jars": jars}, indent=1))
    spent = time.monotonic() - started
    size = sum(p.stat().st_size for p in libs.glob("*.jar")) / 1e6
    say(f"fetched {len(jars)} jars ({size:.0f} MB) in {spent:.1f}s")
    return libs, spent
