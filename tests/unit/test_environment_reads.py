"""The environment is read only in ``glasswatch/cli.py`` (DESIGN.md: read once at the edge).

Walks every module of the package with :mod:`ast` and fails on any use of ``os.environ``,
``os.environb``, ``os.getenv`` or ``os.getenvb`` outside the exceptions documented in
``cli.py``'s docstring. Writes (``os.environ[k] = v``, ``del os.environ[k]``, a bare
``os.environ.setdefault(...)`` statement) are told apart from reads, and each exception allows
only what it needs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import glasswatch

PACKAGE = Path(glasswatch.__file__).parent
ENV_NAMES = frozenset({"environ", "environb", "getenv", "getenvb"})

# (file relative to the package, qualified function or "*" for the whole module) → what it may do.
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("cli.py", "*"): frozenset({"read", "write"}),  # the edge: settings and the environ snapshot
    ("training/capture.py", "fix_seeds"): frozenset({"write"}),  # PYTHONHASHSEED for child processes
    ("training/capture.py", "instance_type"): frozenset({"read"}),  # optional environ parameter
    ("alerting/notify/desktop.py", "DesktopNotifier.__init__"): frozenset({"read"}),  # same
    ("settings.py", "disable_telemetry"): frozenset({"write"}),  # telemetry-off defaults
}


@dataclass(frozen=True)
class Access:
    file: str
    scope: str
    line: int
    kind: str  # "read" or "write"

    def __str__(self) -> str:
        return f"glasswatch/{self.file}:{self.line} ({self.scope}) {self.kind}s the environment"


class _Finder(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.scope: list[str] = []
        self.found: list[Access] = []
        self._writes: set[int] = set()  # ids of os.environ nodes used as write targets
        self._aliases: set[str] = {"os"}  # names bound to the os module

    def _add(self, node: ast.AST, kind: str) -> None:
        scope = ".".join(self.scope) or "<module>"
        self.found.append(Access(self.file, scope, getattr(node, "lineno", 0), kind))

    def _visit_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _visit_scope
    visit_AsyncFunctionDef = _visit_scope
    visit_ClassDef = _visit_scope

    def visit_Import(self, node: ast.Import) -> None:
        self._aliases.update(a.asname or a.name for a in node.names if a.name == "os")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "os" and any(a.name in ENV_NAMES for a in node.names):
            self._add(node, "read")  # `from os import environ`: every later use is unchecked

    def _is_env(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in self._aliases
        )

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self._is_env(node.value) and isinstance(node.ctx, ast.Store | ast.Del):
            self._writes.add(id(node.value))
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in {"setdefault", "update", "pop"}
            and self._is_env(call.func.value)
        ):
            self._writes.add(id(call.func.value))  # result discarded: a write
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self._is_env(node):
            self._add(node, "write" if id(node) in self._writes else "read")
        self.generic_visit(node)


def environment_accesses(source: str, file: str = "<source>") -> list[Access]:
    finder = _Finder(file)
    finder.visit(ast.parse(source))
    return finder.found


def _allowed(access: Access) -> bool:
    for (file, scope), kinds in ALLOWED.items():
        if access.file == file and scope in ("*", access.scope) and access.kind in kinds:
            return True
    return False


def _package_accesses() -> list[Access]:
    return [
        access
        for path in sorted(PACKAGE.rglob("*.py"))
        for access in environment_accesses(
            path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix()
        )
    ]


def test_the_environment_is_read_only_in_cli() -> None:
    offending = [str(a) for a in _package_accesses() if not _allowed(a)]
    assert offending == [], (
        "read the environment in glasswatch/cli.py and hand it down (settings, or the "
        "CommandContext environ snapshot; library APIs take an `environ` parameter):\n"
        + "\n".join(offending)
    )


def test_every_exception_is_still_needed() -> None:
    used = {
        (file, scope)
        for a in _package_accesses()
        for (file, scope) in ALLOWED
        if a.file == file and scope in ("*", a.scope)
    }
    assert set(ALLOWED) - used == set(), "stale exceptions: drop them here and in cli.py's docstring"


def test_the_finder_tells_reads_from_writes() -> None:
    source = (
        "import os\n"
        "import os as system\n"
        "from os import getenv\n"
        "A = os.environ.get('A')\n"
        "def f(environ=None):\n"
        "    os.environ['X'] = '1'\n"
        "    os.environ.setdefault('Y', '1')\n"
        "    del os.environ['X']\n"
        "    return os.environ if environ is None else environ\n"
        "class C:\n"
        "    def m(self):\n"
        "        return system.getenv('B'), {**os.environ}, os.environ['Z']\n"
    )
    found = [(a.scope, a.line, a.kind) for a in environment_accesses(source)]
    assert found == [
        ("<module>", 3, "read"),
        ("<module>", 4, "read"),
        ("f", 6, "write"),
        ("f", 7, "write"),
        ("f", 8, "write"),
        ("f", 9, "read"),
        ("C.m", 12, "read"),
        ("C.m", 12, "read"),
        ("C.m", 12, "read"),
    ]
    assert environment_accesses("import os\nx = os.path.join('a')\nenviron = {}\n") == []
