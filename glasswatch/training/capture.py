"""Reproducibility capture: seeds, git state, environment, machine and cost.

Pure capture only — nothing here talks to MLflow or the network; the tracking adapter
(:mod:`glasswatch.training.tracking`) turns these values into tags, params and metrics.

Decisions
---------
* ``fix_seeds`` reports what it set as ``{library: description}`` strings, ready to log as
  params. ``PYTHONHASHSEED`` is exported for *child* processes only: string hashing of the
  running interpreter was fixed at start-up and cannot change.
* ``git_info`` calls a tree "dirty" when a tracked file changed or an untracked (not ignored)
  file sits inside a *package* directory: a new source module that is not committed makes a
  run just as irreproducible as an edited one. Untracked files elsewhere (notes, notebooks,
  local data) do not make it dirty; they are listed apart in :attr:`GitInfo.untracked` (run tag
  ``glasswatch.git.untracked``, shown by ``glasswatch check`` as "untracked (not in the
  package)"). The packages are the top-level (and ``src/``) folders with an ``__init__.py``
  (:func:`package_dirs`; ``glasswatch/`` here), or those named by ``packages=``. The diff holds
  ``git diff HEAD`` plus the list of every untracked path.
* ``instance_type`` never calls cloud metadata endpoints (core does no network I/O): an
  explicit ``GLASSWATCH_INSTANCE_TYPE`` wins, otherwise the name is derived from the machine.
* Costs are per hour of wall time; ``local-<n>cpu-...`` names without an exact price are
  priced per CPU (``PriceTable.per_cpu_hour``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from glasswatch.errors import ConfigError

__all__ = [
    "DEFAULT_PACKAGES",
    "EnvInfo",
    "GitInfo",
    "PriceTable",
    "env_info",
    "estimate_cost",
    "file_sha256",
    "fix_seeds",
    "git_info",
    "instance_type",
    "package_dirs",
]

DEFAULT_PACKAGES: tuple[str, ...] = (
    "glasswatch", "mlflow", "scikit-learn", "shap", "pandas", "numpy", "scipy", "river", "evidently",
)
"""Libraries whose versions decide whether a training run can be reproduced."""


def fix_seeds(seed: int) -> dict[str, str]:
    """Seed every random generator that is importable and say what was set.

    >>> report = fix_seeds(7)
    >>> report["random"], report["numpy"], report["PYTHONHASHSEED"]
    ('7', '7', '7 (child processes)')
    >>> random.random() == (fix_seeds(7) and random.random())
    True
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    report = {"random": str(seed), "numpy": str(seed), "PYTHONHASHSEED": f"{seed} (child processes)"}
    if _importable("torch"):
        torch = importlib.import_module("torch")
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        report["torch"] = f"{seed} (deterministic algorithms, cudnn deterministic)"
    if _importable("tensorflow"):
        tf = importlib.import_module("tensorflow")
        tf.random.set_seed(seed)
        tf.config.experimental.enable_op_determinism()
        report["tensorflow"] = f"{seed} (op determinism)"
    return report


def _importable(name: str) -> bool:
    """True when ``name`` is installed (already imported or findable), without importing it."""
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class GitInfo:
    """State of the working tree a run was started from.

    >>> GitInfo.unavailable("no git").commit is None
    True
    >>> GitInfo(commit="abc", branch="main", dirty=False).short
    'abc'
    >>> GitInfo("abc", "main", False, untracked=("notes.txt", "x.ipynb")).untracked_text()
    'notes.txt, x.ipynb'
    """

    commit: str | None
    branch: str | None
    dirty: bool
    diff: str = ""
    error: str | None = None
    untracked: tuple[str, ...] = ()
    """Untracked (not ignored) files outside the package directories: listed, not "dirty"."""

    def untracked_text(self, limit: int = 1000) -> str:
        """:attr:`untracked` as one line of at most about ``limit`` characters (a tag value)."""
        shown: list[str] = []
        for name in self.untracked:
            if shown and sum(len(s) + 2 for s in shown) + len(name) > limit:
                break
            shown.append(name)
        rest = len(self.untracked) - len(shown)
        return ", ".join(shown) + (f" (+{rest} more)" if rest else "")

    @property
    def short(self) -> str | None:
        return self.commit[:12] if self.commit else None

    @classmethod
    def unavailable(cls, reason: str) -> GitInfo:
        return cls(commit=None, branch=None, dirty=False, diff="", error=reason)


def _git(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def package_dirs(root: str | Path) -> tuple[str, ...]:
    """The package folders of a work tree (relative POSIX paths): top-level folders and those
    under ``src/`` that hold an ``__init__.py``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for pkg in ("app", "src/lib", "docs"):
    ...         Path(d, pkg).mkdir(parents=True)
    ...     for init in ("app/__init__.py", "src/lib/__init__.py"):
    ...         _ = Path(d, init).write_text("")
    ...     package_dirs(d)
    ('app', 'src/lib')
    """
    base = Path(root)
    found = [p for p in (*base.glob("*/__init__.py"), *base.glob("src/*/__init__.py"))
             if not p.parent.name.startswith(".")]
    return tuple(sorted(p.parent.relative_to(base).as_posix() for p in found))


def _status(porcelain_z: str) -> tuple[bool, list[str]]:
    """(any tracked change, untracked paths) of ``git status --porcelain -z`` output."""
    entries = porcelain_z.split("\0")
    changed, untracked = False, []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if code == "??":
            untracked.append(name)
        elif code != "!!":
            changed = True
            if "R" in code or "C" in code:
                i += 1  # a rename or copy is followed by its original path
    return changed, untracked


def git_info(path: str | Path = ".", packages: Sequence[str] | None = None) -> GitInfo:
    """Commit, branch, dirty flag, diff and untracked files of the repository containing ``path``.

    ``packages``: folders (relative to the work tree's root) whose untracked files make the tree
    dirty; default :func:`package_dirs` of the root. Never raises: without git, or outside a
    repository, the result says why in ``error``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     info = git_info(d)
    >>> info.commit is None and info.error is not None
    True
    """
    if shutil.which("git") is None:
        return GitInfo.unavailable("git is not installed")
    where = Path(path)
    try:
        commit = _git(where, "rev-parse", "HEAD").strip()
        branch = _git(where, "rev-parse", "--abbrev-ref", "HEAD").strip()
        root = Path(_git(where, "rev-parse", "--show-toplevel").strip())
        # porcelain paths are relative to the root; -z: no quoting of unusual names
        status = _git(where, "status", "--porcelain", "-z", "--untracked-files=all")
        diff = _git(where, "diff", "HEAD")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        stderr = getattr(exc, "stderr", "") or ""
        return GitInfo.unavailable(f"not a usable git repository: {stderr.strip() or exc}")
    changed, untracked = _status(status)
    if untracked:
        diff += "".join(f"# untracked: {name}\n" for name in untracked)
    pkgs = tuple(p.strip("/") for p in (package_dirs(root) if packages is None else packages))
    inside = [n for n in untracked if any(n == p or n.startswith(f"{p}/") for p in pkgs)]
    outside = tuple(n for n in untracked if n not in inside)
    return GitInfo(commit=commit, branch=branch, dirty=changed or bool(inside), diff=diff,
                   untracked=outside)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in chunks).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d, "x.txt"); _ = p.write_bytes(b"abc")
    ...     file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class EnvInfo:
    """Interpreter, platform, package versions and lock-file digest.

    >>> e = env_info(packages=("numpy", "surely-not-installed-pkg"), lock_file=None)
    >>> e.packages["surely-not-installed-pkg"], e.uv_lock_sha256
    ('not installed', None)
    """

    python: str
    platform: str
    packages: Mapping[str, str] = field(default_factory=dict)
    uv_lock_sha256: str | None = None


def env_info(
    packages: Sequence[str] = DEFAULT_PACKAGES, lock_file: str | Path | None = "uv.lock"
) -> EnvInfo:
    """Capture the software environment; a missing lock file gives ``uv_lock_sha256=None``."""
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    lock_hash = None
    if lock_file is not None and Path(lock_file).is_file():
        lock_hash = file_sha256(lock_file)
    return EnvInfo(
        python=platform.python_version(),
        platform=platform.platform(),
        packages=versions,
        uv_lock_sha256=lock_hash,
    )


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def instance_type(
    environ: Mapping[str, str] | None = None, cpus: int | None = None, memory_bytes: int | None = None
) -> str:
    """Name of the machine class a run used.

    ``GLASSWATCH_INSTANCE_TYPE`` (e.g. ``m5.xlarge``) wins; otherwise ``local-<cpus>cpu-<GiB>gib``.

    >>> instance_type({"GLASSWATCH_INSTANCE_TYPE": "m5.large"})
    'm5.large'
    >>> instance_type({}, cpus=2, memory_bytes=24 * 2**30)
    'local-2cpu-24gib'
    """
    env = os.environ if environ is None else environ
    override = env.get("GLASSWATCH_INSTANCE_TYPE", "").strip()
    if override:
        return override
    n_cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    mem = memory_bytes if memory_bytes is not None else _memory_bytes()
    return f"local-{n_cpus}cpu-{round(mem / 2**30)}gib"


class PriceTable(BaseModel):
    """Hourly prices (USD) per instance type; load your own with :meth:`from_yaml`.

    >>> PriceTable().hourly["m5.large"]
    0.096
    >>> PriceTable(hourly={"box": 1.0}, per_cpu_hour=0.5).price_per_hour("local-4cpu-16gib")
    2.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    hourly: dict[str, float] = Field(
        default_factory=lambda: {
            # on-demand Linux prices, us-east-1 (2025 list prices)
            "m5.large": 0.096,
            "m5.xlarge": 0.192,
            "m5.2xlarge": 0.384,
            "c5.xlarge": 0.17,
            "c5.2xlarge": 0.34,
            "r5.xlarge": 0.252,
            "g4dn.xlarge": 0.526,
            "g5.xlarge": 1.006,
            "p3.2xlarge": 3.06,
        }
    )
    per_cpu_hour: float = Field(default=0.024, ge=0)
    """Price of one vCPU-hour, used for derived ``local-<n>cpu-...`` names (≈ m5 per vCPU)."""

    @classmethod
    def from_yaml(cls, path: str | Path) -> PriceTable:
        """Read ``{hourly: {type: usd}, per_cpu_hour: usd}`` from a YAML file."""
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
            return cls.model_validate(data)
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"price table {path}: {exc}") from exc

    def price_per_hour(self, instance: str) -> float:
        if instance in self.hourly:
            return self.hourly[instance]
        match = re.fullmatch(r"local-(\d+)cpu-\d+gib", instance)
        if match:
            return int(match.group(1)) * self.per_cpu_hour
        raise ConfigError(f"no price for instance type {instance!r}; add it to the price table")


def estimate_cost(seconds: float, instance: str, price_table: PriceTable | None = None) -> float:
    """Cost in USD of ``seconds`` of wall time on ``instance``.

    >>> estimate_cost(3600, "m5.large")
    0.096
    >>> round(estimate_cost(1800, "local-2cpu-24gib"), 4)
    0.024
    """
    if seconds < 0:
        raise ConfigError(f"negative duration {seconds}")
    table = price_table or PriceTable()
    return seconds / 3600.0 * table.price_per_hour(instance)
