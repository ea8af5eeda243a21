"""``glasswatch demo``: the whole story on embedded defaults, in one command.

1. a local Kafka (``deploy/local_kafka/``, jars fetched by Maven on first use) unless
   ``GLASSWATCH_KAFKA_BOOTSTRAP`` points at a broker;
2. ``glasswatch train``: the example model, registered in MLflow (SQLite under the demo dir);
3. a worker (monitor spec ``docs/demo-monitor.yaml``: 2 s windows, one static band on the mean
   of ``age``), a local Slack-compatible sink (:mod:`glasswatch.testing.slack_sink`) and a router
   delivering to it;
4. simulated traffic with malformed messages mixed in and drift injected midway
   (``age:+15`` on 40-70 % of the events, ``simulate --drift``);
5. prints the statistics, the dead letters, the drift alert as it fires, the Slack message the
   sink received, the alert's dashboard URL, then the resolve once the drift stops.

Processes are stopped at the end; ``--keep`` leaves them running and prints how to stop them.
Everything lives under ``--dir`` (default ``.cache/demo``), emptied at each start.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import BrokerError, EnvironmentNotReady
from glasswatch.schemas.text import printable

__all__ = [
    "DEMO_SPEC",
    "DRIFT",
    "MIDWAY",
    "REPO_ROOT",
    "SHOWN_LETTERS",
    "dead_letter_lines",
    "load_local_kafka",
    "register",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SPEC = REPO_ROOT / "docs" / "demo-monitor.yaml"
"""The demo's monitor spec: short windows and one static band, so drift fires and resolves in seconds."""
DRIFT = "age:+15@0.4-0.7"
"""The change the demo injects (``simulate --drift`` syntax): age +15 from 40 % to 70 % of the events."""
SHOWN_LETTERS = 10
"""Dead letters the demo lists (it says how many of how many)."""
MIDWAY = 0.55
"""The demo publishes the events up to here first (the drift has begun), the rest after the alert."""


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


def dead_letter_lines(
    letters: list[dict[str, Any]], shown: int = SHOWN_LETTERS, width: int = 70
) -> list[str]:
    """The dead-letter listing: a header saying how many of how many are shown, one line per
    letter, details shortened at a word boundary (with an ellipsis), never mid-word.

    >>> letters = [{"reason": "not_json", "source_topic": "p", "source_partition": 0, "source_offset": i,
    ...             "detail": "Expecting ',' delimiter: line 1 column 80 (char 79)"} for i in range(3)]
    >>> print("\\n".join(dead_letter_lines(letters, shown=2, width=30)))
    3 dead letters, showing 2 of 3 (all: glasswatch dlq show):
      not_json                 p[0]@0  Expecting ',' delimiter: line…
      not_json                 p[0]@1  Expecting ',' delimiter: line…
    """
    n = len(letters)
    head = f"{n} dead letters" + (f", showing {min(shown, n)} of {n}" if n > shown else "")
    out = [head + " (all: glasswatch dlq show):"]
    for d in letters[:shown]:
        detail = textwrap.shorten(printable(str(d.get("detail", ""))), width=width, placeholder="…")
        where = f"{d.get('source_topic')}[{d.get('source_partition')}]@{d.get('source_offset')}"
        out.append(printable(f"  {d.get('reason', ''):<24} {where}  {detail}"))
    return out


class _Procs:
    """The processes the demo started, stopped in reverse order (or left running with --keep)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as fh:
            proc = subprocess.Popen(argv, env=dict(env), stdout=fh, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        _say(f"{name} started (pid {proc.pid}, log {log})")
        return proc

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise EnvironmentNotReady(f"the {name} exited with code {proc.returncode}; see its log")

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start_sink(demo_dir: Path, env: Mapping[str, str], procs: _Procs) -> str:
    """Start the Slack-compatible sink as a process (it outlives the demo with --keep); its API URL."""
    log = demo_dir / "slack-sink.log"
    proc = procs.start("Slack sink", [sys.executable, "-m", "glasswatch.testing.slack_sink"], env, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first = log.read_text().splitlines()[:1]
        if first and first[0].startswith("http"):
            return first[0].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise EnvironmentNotReady(f"the Slack sink did not start; see {log}")


def _routes(api_url: str, channel: str) -> str:
    return textwrap.dedent(
        f"""\
        # written by glasswatch demo: every alert to the local Slack-compatible sink
        receivers:
          - {{name: slack, kind: slack, channel: {json.dumps(channel)}, token: "xoxb-demo-not-a-secret",
             api_url: {json.dumps(api_url)}}}
        route:
          receiver: slack
          group_by: [fingerprint]
          group_wait: 0s
          group_interval: 1s
        """
    )


def _sink_messages(api_url: str) -> list[dict[str, Any]]:
    import urllib.request

    url = api_url.removesuffix("/api/") + "/messages"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (the demo's own local sink)
        data: list[dict[str, Any]] = json.loads(resp.read())
    return data


def _wait(what: str, probe: Callable[[], Any], procs: _Procs, timeout_s: float) -> Any:
    """Poll ``probe`` until it returns something truthy; ``None`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs.check()
        try:
            found = probe()
        except Exception:  # not up yet: the worker's page, the topic, the sink
            found = None
        if found:
            return found
        time.sleep(1)
    _say(f"timed out waiting for {what}")
    return None


def _train(demo_dir: Path, env: Mapping[str, str]) -> None:
    _say("training the example model (MLflow, SQLite under the demo dir)...")
    out = subprocess.run(
        [sys.executable, "-m", "glasswatch", "train", "--alerts", "local", "--no-desktop",
         "--data-dir", str(demo_dir / "data")],
        env=dict(env), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise EnvironmentNotReady(f"glasswatch train failed:\n{out.stderr[-2000:]}")
    for line in out.stdout.splitlines():
        typer.echo(f"  {line}")


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach ``demo`` to ``app``."""

    @app.command()
    def demo(
        events: int = typer.Option(20_000, min=100, help="Good events to simulate (100/s of event time)."),
        bad: int = typer.Option(40, min=0, help="Malformed messages to mix in."),
        model: str = typer.Option("demo", help="Model name (the demo spec watches 'demo')."),
        drift: str = typer.Option(
            DRIFT, help="The change to inject: FEATURE:+DELTA@AT[-UNTIL] (AT before 0.55, UNTIL after)."
        ),
        rate: float = typer.Option(
            0.0, min=0.0, help="Events per second in real time (0: as fast as possible)."
        ),
        train: bool = typer.Option(True, help="Train and register the example model in MLflow first."),
        keep: bool = typer.Option(
            False, help="Leave Kafka, worker, router and Slack sink running afterwards."
        ),
        timeout_s: float = typer.Option(180.0, help="How long to wait for each step."),
        directory: Path = typer.Option(
            REPO_ROOT / ".cache" / "demo", "--dir", help="Working directory (emptied first)."
        ),
    ) -> None:
        """Local demo: Kafka, MLflow, worker, router and a Slack sink; drift fires an alert, then resolves."""
        from glasswatch.commands.dlq import read_topic_json
        from glasswatch.commands.simulate import simulate_traffic
        from glasswatch.commands.status import fetch_stats, render_stats
        from glasswatch.schemas.alert import Alert, AlertStatus

        s = context()
        environ = context.environ()
        started = time.monotonic()
        kafka: Any = None
        bootstrap = environ.get("GLASSWATCH_KAFKA_BOOTSTRAP") or environ.get("GLASSWATCH_KAFKA__BOOTSTRAP")
        demo_dir = directory.resolve()
        shutil.rmtree(demo_dir, ignore_errors=True)  # every demo starts from empty state
        demo_dir.mkdir(parents=True)
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
            "GLASSWATCH_WORKER__MONITOR_SPECS": environ.get(
                "GLASSWATCH_WORKER__MONITOR_SPECS", str(DEMO_SPEC)
            ),
            "GLASSWATCH_MLFLOW__TRACKING_URI": environ.get(
                "GLASSWATCH_MLFLOW__TRACKING_URI", f"sqlite:///{demo_dir / 'mlflow.db'}"
            ),
        }
        env.pop("GLASSWATCH_KAFKA_BOOTSTRAP", None)
        procs = _Procs()
        try:
            if train:
                _train(demo_dir, env)
            api_url = _start_sink(demo_dir, env, procs)
            _say(f"Slack-compatible sink at {api_url} (messages: {api_url.removesuffix('/api/')}/)")
            routes = demo_dir / "routes.yaml"
            routes.write_text(_routes(api_url, s.notify.slack_channel))
            worker_argv = [sys.executable, "-m", "glasswatch", "worker", "--loglevel", "warning"]
            procs.start("worker", worker_argv, env, demo_dir / "worker.log")
            router_argv = [sys.executable, "-m", "glasswatch", "router", "run", "--routes", str(routes),
                           "--group-id", f"glasswatch-demo-{os.getpid()}"]  # fmt: skip
            procs.start("router", router_argv, env, demo_dir / "router.log")
            # two parts: up to midway (baseline, then the drift starts), and after the first alert
            # reached Slack, the rest (the drift stops): a router that saw the firing alert and its
            # resolve in one poll would rightly notify nobody
            part = round(events * MIDWAY)
            start = datetime.now(UTC) - timedelta(seconds=events / 100.0) if not rate else None

            def publish(first: int, n: int, n_bad: int) -> dict[str, int]:
                return asyncio.run(
                    simulate_traffic(s, model=model, events=n, bad=n_bad, rate=rate or None, drift=[drift],
                                     first=first, total=events, start=start)
                )  # fmt: skip

            _say(f"publishing events 0-{part - 1} of {events} ({bad} malformed) with drift {drift}")
            sent = publish(0, part, bad)
            _say(f"sent: {sent}")
            url = s.worker.base_url

            def caught_up() -> dict[str, Any] | None:
                snap = fetch_stats(url)
                good = snap.get("accepted", 0) + snap.get("rejects", {}).get("late", 0)
                return (
                    snap if good >= sent["good"] and snap.get("rejected", 0) >= sent.get("bad", 0) else None
                )

            snap = _wait("the worker to apply the traffic", caught_up, procs, timeout_s) or {}
            typer.echo(render_stats(snap) if snap else "no statistics yet")
            letters = asyncio.run(read_topic_json(bootstrap, s.topics.dead_letters))
            typer.echo("\n" + "\n".join(dead_letter_lines(letters)))

            def alert(status: AlertStatus) -> Alert | None:
                found = [
                    Alert.model_validate(a) for a in asyncio.run(read_topic_json(bootstrap, s.topics.alerts))
                ]
                return next((a for a in found if a.model == model and a.status is status), None)

            def slack_of(a: Alert, after: int = 0) -> dict[str, Any] | None:
                """The first sink message from ``after`` on about ``a`` (its signal, and for a
                resolve the word resolved)."""
                for m in _sink_messages(api_url)[after:]:
                    text = _text(m)
                    if a.signal in text and (a.status is AlertStatus.FIRING or "resolved" in text.lower()):
                        return m
                return None

            firing = _wait("the drift alert", lambda: alert(AlertStatus.FIRING), procs, timeout_s)
            if firing is None:
                raise typer.Exit(1)
            typer.echo(f"\nALERT FIRING  {printable(firing.summary)}")
            typer.echo(f"  kind {firing.kind.value}, severity {firing.severity.value}, id {firing.id}")
            typer.echo(f"  dashboard  {firing.links.dashboard}")
            typer.echo(f"  playbook   {firing.links.playbook}")
            typer.echo(f"  replay     {printable(firing.replay_command or '-')}")
            msg = _wait("the Slack message", lambda: slack_of(firing), procs, timeout_s)
            if msg is not None:
                typer.echo(f"\nSlack message ({msg['method']} to {printable(msg['channel'])}):")
                typer.echo("\n".join(f"  | {printable(line)}" for line in _text(msg).splitlines()))
            _say(f"publishing events {part}-{events - 1}: the rest of the traffic, where the drift ends")
            publish(part, events - part, 0)
            resolved = _wait("the resolve", lambda: alert(AlertStatus.RESOLVED), procs, timeout_s)
            if resolved is not None:
                typer.echo(f"\nALERT RESOLVED  {printable(resolved.summary)} at {resolved.ends_at}")
                update = _wait("the Slack resolve", lambda: slack_of(resolved, 1), procs, 60)
                if update is not None:
                    typer.echo(f"  Slack: {update['method']} {printable(_text(update).splitlines()[0])}")
            typer.echo(f"\ndashboard: {url}/alerts/   (demo took {time.monotonic() - started:.0f} s)")
            if firing is None or msg is None or resolved is None:
                raise typer.Exit(1)
        finally:
            if not keep:
                procs.stop()
                if kafka is not None:
                    kafka.stop()
                _say("stopped worker, router and Slack sink" + (" and Kafka" if kafka is not None else ""))
            else:
                pids = " ".join(str(p.pid) for _, p in procs.procs)
                _say(f"left running: worker, router, Slack sink (pids {pids}), Kafka at {bootstrap}")
                _say(f"stop them with: kill {pids}")
                if kafka is not None:
                    down = f"uv run --no-project python deploy/local_kafka down --dir {demo_dir / 'kafka'}"
                    _say(f"stop Kafka with: {down}")


def _text(m: Mapping[str, Any]) -> str:
    """A sink message's text (its ``text`` and the text of its blocks)."""
    from glasswatch.testing.slack_sink import SlackMessage

    return SlackMessage(**m).render()
