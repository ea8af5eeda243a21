from __future__ import annotations

import re
from pathlib import Path

import pytest

from glasswatch.schemas.alert import PLAYBOOK_BASE, AlertKind
from glasswatch.web.alerts import playbook_text

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "docs" / "playbooks"
SECTIONS = ("## What it means", "## How to check", "## How to fix")


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_alert_kind_has_a_playbook_with_three_sections(kind: AlertKind) -> None:
    path = PLAYBOOKS / f"{kind.value}.md"
    assert path.is_file(), f"missing playbook {path}"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# `{kind.value}`")
    positions = [text.find(s) for s in SECTIONS]
    assert -1 not in positions, f"{path.name} lacks one of {SECTIONS}"
    assert positions == sorted(positions)
    bodies = re.split("|".join(re.escape(s) for s in SECTIONS), text)[1:]
    assert all(len(b.strip()) > 80 for b in bodies), f"{path.name} has an empty section"
    assert "glasswatch replay" in text
    assert "127.0.0.1:6066/alerts" in text
    # ... and the worker serves it where every alert's playbook link points
    assert playbook_text(kind.value) == text
    assert PLAYBOOK_BASE.startswith("http://")


def test_index_links_every_playbook_and_nothing_else() -> None:
    index = (PLAYBOOKS / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([a-z_]+)\.md\)", index))
    assert linked == {k.value for k in AlertKind}
    on_disk = {p.stem for p in PLAYBOOKS.glob("*.md")} - {"README"}
    assert on_disk == linked
