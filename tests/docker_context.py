"""The Docker build context without a Docker engine: ``.dockerignore`` and ``Dockerfile`` read
with Docker's rules, and the files the builder stage sees assembled into a folder.

Used by ``tests/unit/deploy/test_dockerfile.py`` (parsing, matching) and
``tests/integration/test_docker_context_build.py`` (a wheel built from exactly that folder).

What is implemented of Docker's rules (moby ``patternmatcher``, BuildKit ``dockerfile`` frontend):

* ``.dockerignore``: one pattern a line, ``#`` lines are comments, a pattern is ``Clean``-ed and
  loses a leading ``/``; ``*`` (no ``/``), ``?``, ``[...]`` and ``**`` (any number of directories);
  a pattern matching a parent directory matches everything below it; the *last* matching line
  decides, ``!`` lines re-include. Escapes (``\\``) are not implemented: :func:`read_dockerignore`
  refuses them, so a pattern this module would misread cannot slip in.
* ``Dockerfile``: ``\\`` line continuations, comments, ``FROM ... AS``, ``WORKDIR``, ``COPY``/``ADD``
  in shell and JSON form with their ``--flags`` (``--from`` copies from a stage or image, not the
  context), ``RUN --mount=type=bind,source=...,target=...`` (no ``from``: the context).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ContextCopy",
    "MissingSource",
    "assemble_context",
    "context_copies",
    "context_files",
    "is_ignored",
    "read_dockerignore",
]


class MissingSource(FileNotFoundError):
    """A COPY source with no file in the build context (Docker: ``failed to compute cache key``)."""


@dataclass(frozen=True)
class ContextCopy:
    """One path the build takes from the context: ``source`` (relative to the context) to the
    absolute ``target`` inside stage ``stage``."""

    stage: str
    source: str
    target: str
    instruction: str  # COPY, ADD or RUN --mount


def read_dockerignore(path: Path) -> list[str]:
    """The patterns of a ``.dockerignore``, cleaned as Docker cleans them."""
    patterns = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "\\" in line:
            raise ValueError(f"{path}: escapes are not implemented by this reader: {line!r}")
        negate = line.startswith("!")
        body = line[1:].strip() if negate else line
        body = posixpath.normpath(body).lstrip("/")
        patterns.append(("!" if negate else "") + body)
    return patterns


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":  # "**/": zero or more directories
                    i += 1
                    out += "(.*/)?"
                else:  # "**" at the end or before a name
                    out += ".*"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


def is_ignored(relpath: str, patterns: list[str]) -> bool:
    """Docker's answer for one context path (POSIX, relative): is it left out?"""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # a parent's match counts
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        rx = _regex(pattern[1:] if negate else pattern)
        if any(rx.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction, continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def _split_args(args: str) -> tuple[list[str], list[str]]:
    """(flags, operands) of COPY/ADD, shell or JSON form."""
    tokens = shlex.split(args)
    flags = [t for t in tokens if t.startswith("--")]
    rest = args
    for f in flags:
        rest = rest.replace(f, "", 1)
    rest = rest.strip()
    operands = json.loads(rest) if rest.startswith("[") else [t for t in tokens if not t.startswith("--")]
    return flags, operands


def context_copies(dockerfile: Path) -> list[ContextCopy]:
    """Every path the Dockerfile takes from the build context, with its absolute target."""
    copies: list[ContextCopy] = []
    stage, workdir = "", "/"
    for keyword, args in _instructions(dockerfile):
        if keyword == "FROM":
            words = args.split()
            stage = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else words[0]
            workdir = "/"
        elif keyword == "WORKDIR":
            workdir = posixpath.join(workdir, args)
        elif keyword in ("COPY", "ADD"):
            flags, operands = _split_args(args)
            if any(f.startswith("--from=") for f in flags):
                continue
            *sources, dest = operands
            dest_abs = posixpath.join(workdir, dest)
            for source in sources:
                src = posixpath.normpath(source).lstrip("/")
                if dest.endswith("/") or len(sources) > 1:
                    target = posixpath.normpath(posixpath.join(dest_abs, posixpath.basename(src)))
                else:
                    target = posixpath.normpath(dest_abs)
                copies.append(ContextCopy(stage, src, target, keyword))
        elif keyword == "RUN":
            for token in shlex.split(args):
                if not token.startswith("--mount="):
                    continue
                opts = dict(kv.split("=", 1) for kv in token.removeprefix("--mount=").split(",") if "=" in kv)
                if opts.get("type") == "bind" and "from" not in opts:
                    src = posixpath.normpath(opts.get("source", ".")).lstrip("/")
                    target = posixpath.normpath(posixpath.join(workdir, opts["target"]))
                    copies.append(ContextCopy(stage, src, target, "RUN --mount"))
    return copies


def context_files(root: Path, source: str, patterns: list[str]) -> list[str]:
    """The context paths (relative, POSIX) of ``source`` that ``.dockerignore`` lets in."""
    base = root / source
    if base.is_file():
        candidates = [source]
    elif base.is_dir():
        candidates = sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())
    else:
        candidates = []
    return [c for c in candidates if not is_ignored(c, patterns)]


def assemble_context(root: Path, out: Path, stage: str, dockerfile: Path | None = None,
                     patterns: list[str] | None = None) -> Path:
    """Copy what ``stage`` of ``root``'s Dockerfile takes from the context into ``out`` (each
    target ``/a/b`` becomes ``out/a/b``); returns ``out`` / the stage's last WORKDIR.

    Raises :class:`MissingSource` for a COPY whose source the context does not hold."""
    dockerfile = dockerfile or root / "Dockerfile"
    if patterns is None:
        patterns = read_dockerignore(root / ".dockerignore")
    workdirs: dict[str, str] = {}
    current = ""
    for keyword, args in _instructions(dockerfile):
        if keyword == "FROM":
            current = args.split()[-1]
            workdirs[current] = "/"
        elif keyword == "WORKDIR":
            workdirs[current] = posixpath.join(workdirs[current], args)
    if stage not in workdirs:
        raise ValueError(f"{dockerfile}: no stage {stage!r}")
    workdir = workdirs[stage]
    for copy in context_copies(dockerfile):
        if copy.stage != stage:
            continue
        files = context_files(root, copy.source, patterns)
        if not files:
            raise MissingSource(f"{copy.instruction} {copy.source}: not in the build context "
                                f"(missing, or left out by .dockerignore)")
        for rel in files:
            inner = posixpath.relpath(rel, copy.source) if rel != copy.source else ""
            target = out / copy.target.lstrip("/") / inner if inner else out / copy.target.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, target)
    return out / workdir.lstrip("/")
