"""``glasswatch demo``, shortened, end to end on the real broker (issue 13, part 6).

The real command in a subprocess: worker, router and Slack sink processes, traffic with drift
midway; the drift alert must fire, reach the Slack sink (the demo prints what the sink
received) and resolve, and the dead-letter listing must say how many it shows.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_shortened_demo_fires_the_drift_alert_reaches_slack_and_resolves(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSWATCH_")}
    env |= {
        "GLASSWATCH_KAFKA__BOOTSTRAP": kafka_bootstrap,
        "GLASSWATCH_WORKER__APP_ID": f"gw-demo-{tag}",
        "GLASSWATCH_WORKER__WEB_PORT": str(_free_port()),
        "GLASSWATCH_NOTIFY__DESKTOP": "false",
    }
    for name in ("predictions", "features", "labels", "dead_letters", "windows", "alerts", "silences"):
        env[f"GLASSWATCH_TOPICS__{name.upper()}"] = f"demo-{tag}-{name}"
    argv = [sys.executable, "-m", "glasswatch", "demo", "--events", "3000", "--bad", "16", "--no-train",
            "--timeout-s", "90", "--dir", str(tmp_path / "demo")]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    assert "16 dead letters, showing 10 of 16" in out
    assert "ALERT FIRING  feature:age:mean" in out
    assert re.search(r"dashboard  http://127\.0\.0\.1:\d+/alerts/[0-9a-f]{16}/", out)
    slack = out.split("Slack message (chat.postMessage to #ml-alerts):", 1)
    assert len(slack) == 2, out  # the text below it is what the sink received
    assert "feature:age:mean" in slack[1].split("ALERT RESOLVED", 1)[0]
    assert "ALERT RESOLVED  resolved: feature:age:mean back to normal" in out
    assert "stopped worker, router and Slack sink" in done.stderr
