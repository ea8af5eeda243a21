"""``__all__`` tested both ways (httpx's ``tests/test_exported_members.py``).

Every module of glasswatch declares its public API with ``__all__``; every name listed exists,
and every public name the module itself defines (classes, functions, module-level constants
and type aliases not starting with ``_``; imported names excluded) is listed. A module's logger
(``log = logging.getLogger(__name__)``) is not API and needs no entry.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import glasswatch

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(glasswatch.__path__, "glasswatch.")
    if not m.name.endswith("__main__")
)


def _is_package(mod: object) -> bool:
    return str(getattr(mod, "__file__", "") or "").endswith("__init__.py")


def _top_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module-level statements, looking into ``if``/``try`` blocks (not into defs)."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If):
            out += _top_level_statements(node.body) + _top_level_statements(node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_level_statements(node.body) + _top_level_statements(node.orelse)
            for handler in node.handlers:
                out += _top_level_statements(handler.body)
            out += _top_level_statements(node.finalbody)
    return out


def _targets(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return [n for elt in node.elts for n in _targets(elt)]
    return []


def _is_logger(value: ast.expr | None) -> bool:
    func = value.func if isinstance(value, ast.Call) else None
    return (isinstance(func, ast.Attribute) and func.attr == "getLogger") or (
        isinstance(func, ast.Name) and func.id == "getLogger"
    )


def defined_public_names(source: str) -> set[str]:
    """Public names a module's own top-level code defines (imports excluded).

    >>> sorted(defined_public_names("import os\\nA = 1\\n_b = 2\\ndef f(): pass\\nclass C: pass"))
    ['A', 'C', 'f']
    """
    names: set[str] = set()
    for node in _top_level_statements(ast.parse(source).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and not _is_logger(node.value):
            names.update(n for t in node.targets for n in _targets(t))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and not _is_logger(node.value):
            names.update(_targets(node.target))
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    mod = importlib.import_module(name)
    exported = getattr(mod, "__all__", None)
    if exported is None:
        assert name.endswith(("__init__", "cli")) or _is_package(mod), f"{name} declares no __all__"
        return
    missing = [n for n in exported if not hasattr(mod, n)]
    assert missing == [], f"{name}: in __all__ but not defined: {missing}"
    assert len(exported) == len(set(exported))


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_is_exported(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__file__ is not None
    defined = defined_public_names(Path(mod.__file__).read_text(encoding="utf-8"))
    exported = set(getattr(mod, "__all__", ()))
    if not hasattr(mod, "__all__") and _is_package(mod):
        assert defined == set(), f"{name} defines {sorted(defined)} but declares no __all__"
        return
    unlisted = sorted(defined - exported)
    assert unlisted == [], f"{name}: public but not in __all__: {unlisted}"


def test_the_checker_sees_definitions_and_ignores_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from collections.abc import Callable\n"
        "    Hook = Callable[[], None]\n"
        "try:\n"
        "    import orjson\n"
        "except ImportError:\n"
        "    FAST = False\n"
        "__all__ = ['run']\n"
        "LIMIT: int = 3\n"
        "x, (y, _z) = 1, (2, 3)\n"
        "log = logging.getLogger(__name__)\n"
        "async def run() -> None: ...\n"
        "def _helper() -> None: ...\n"
    )
    assert defined_public_names(source) == {"Hook", "FAST", "LIMIT", "x", "y", "run"}


def test_schemas_package_exports_every_contract() -> None:
    import glasswatch.schemas as s

    for contract in (
        "PredictionEvent",
        "FeatureEvent",
        "LabelEvent",
        "BatchEnvelope",
        "Tick",
        "Alert",
        "DeadLetter",
    ):
        assert contract in s.__all__
