"""``glasswatch demo``: the whole first slice on embedded defaults, in one command.

Starts a local Kafka (``deploy/local_kafka/``, fetched by Maven on first use) unless
``GLASSWATCH_KAFKA_BOOTSTRAP`` points at a broker, starts a worker process, publishes simulated
traffic with malformed messages mixed in, waits until the worker has applied all of it, prints
the statistics and the dead letters, then stops what it started (``--keep`` leaves them running).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import BrokerError, EnvironmentNotReady

__all__ = ["REPO_ROOT", "load_local_kafka", "register"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_local_kafka() -> ModuleType:
    """Import the ``deploy/local_kafka/`` package of the source checkout, once, as ``local_kafka``.

    The one way the demo, the tests and the benchmarks reach it (``deploy/`` is not installed and
    not on ``sys.path``: putting it there would also expose ``deploy/kafka/`` as a package).
    Raises :class:`EnvironmentNotReady` outside a source checkout (e.g. in the Docker image,
    which does not copy ``deploy/``).
    """
    if "local_kafka" in sys.modules:
        return sys.modules["local_kafka"]
    init = REPO_ROOT / "deploy" / "local_kafka" / "__init__.py"
    if not init.is_file():
        raise EnvironmentNotReady(
            f"{init.parent} not found: the demo's local Kafka needs a source checkout of glasswatch; "
            "or point GLASSWATCH_KAFKA_BOOTSTRAP at a running broker"
        )
    spec = importlib.util.spec_from_file_location(
        "local_kafka", init, submodule_search_locations=[str(init.parent)]
    )
    if spec is None or spec.loader is None:
        raise EnvironmentNotReady(f"cannot load {init.parent}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # before running it: its relative imports resolve through here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for name in [n for n in sys.modules if n == spec.name or n.startswith(f"{spec.name}.")]:
            del sys.modules[name]
        raise
    return module


def _say(msg: str) -> None:
    typer.echo(f"[demo] {msg}", err=True)


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach ``demo`` to ``app``."""

    @app.command()
    def demo(
        events: int = typer.Option(20_000, min=1, help="Good events to simulate."),
        bad: int = typer.Option(40, min=0, help="Malformed messages to mix in."),
        model: str = typer.Option("demo", help="Model name."),
        keep: bool = typer.Option(False, help="Leave Kafka and the worker running afterwards."),
        timeout_s: float = typer.Option(180.0, help="How long to wait for the worker to catch up."),
    ) -> None:
        """Local demo: Kafka up, worker running, simulated traffic, stats and dead letters shown."""
        from glasswatch.commands.dlq import read_topic_json
        from glasswatch.commands.simulate import simulate_traffic
        from glasswatch.commands.status import fetch_stats, render_stats

        s = context()
        environ = context.environ()
        kafka: Any = None
        bootstrap = environ.get("GLASSWATCH_KAFKA_BOOTSTRAP") or environ.get("GLASSWATCH_KAFKA__BOOTSTRAP")
        demo_dir = REPO_ROOT / ".cache" / "demo"
        shutil.rmtree(demo_dir, ignore_errors=True)  # every demo starts from empty topics and state
        if not bootstrap:
            lk = load_local_kafka()
            kafka = lk.LocalKafka(port=0, workdir=demo_dir / "kafka")
            _say("starting a local Kafka broker (the first run fetches its jars with Maven)...")
            try:
                kafka.start()
            except lk.EnvironmentNotReady as exc:  # local_kafka is stdlib-only: map to our tree here
                raise EnvironmentNotReady(str(exc)) from exc
            except lk.LocalKafkaError as exc:
                raise BrokerError(f"the local Kafka broker did not start: {exc}") from exc
            bootstrap = kafka.bootstrap
            _say(f"Kafka ready at {bootstrap}")
        s = s.model_copy(update={"kafka": s.kafka.model_copy(update={"bootstrap": bootstrap})})
        s = s.model_copy(update={"worker": s.worker.model_copy(update={"data_dir": demo_dir / "worker"})})
        env = {
            **environ,
            "GLASSWATCH_KAFKA__BOOTSTRAP": bootstrap,
            "GLASSWATCH_WORKER__DATA_DIR": str(demo_dir / "worker"),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "glasswatch", "worker", "--loglevel", "warning"], env=env
        )
        try:
            _say(
                f"worker started (pid {worker.pid}); publishing {events} events and {bad} malformed messages"
            )
            sent = asyncio.run(simulate_traffic(s, model=model, events=events, bad=bad))
            _say(f"sent: {sent}")
            url = f"http://127.0.0.1:{s.worker.web_port}"
            deadline = time.monotonic() + timeout_s
            snap: dict[str, Any] = {}
            while time.monotonic() < deadline:
                if worker.poll() is not None:
                    typer.echo(f"error: the worker exited with code {worker.returncode}", err=True)
                    raise typer.Exit(2)
                try:
                    snap = fetch_stats(url)
                except Exception:
                    snap = {}
                done = snap.get("accepted", 0) >= sent["good"] and snap.get("rejected", 0) >= sent.get(
                    "bad", 0
                )
                if done:
                    break
                if snap:
                    _say(
                        f"waiting: applied {snap['accepted']}/{sent['good']} events, "
                        f"{snap['rejected']}/{sent.get('bad', 0)} dead letters"
                    )
                time.sleep(2)
            else:
                _say("timed out waiting for the worker; showing what it has")
            typer.echo(render_stats(snap) if snap else "no statistics yet")
            letters = asyncio.run(read_topic_json(bootstrap, s.topics.dead_letters))
            typer.echo(f"\n{len(letters)} dead letters (glasswatch dlq show):")
            for d in letters[:10]:
                typer.echo(
                    f"  {d['reason']:<24} {d['source_topic']}[{d['source_partition']}]@{d['source_offset']}  "
                    f"{d['detail'][:70]}"
                )
        finally:
            if not keep:
                worker.terminate()
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                if kafka is not None:
                    kafka.stop()
                _say("stopped worker" + (" and Kafka" if kafka is not None else ""))
            else:
                _say(f"left running: worker pid {worker.pid}, Kafka at {bootstrap}")
