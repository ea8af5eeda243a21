"""Every module's ``__all__`` names things that exist (the public API is declared and real)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import glasswatch

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(glasswatch.__path__, "glasswatch.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    mod = importlib.import_module(name)
    exported = getattr(mod, "__all__", None)
    if exported is None:
        assert name.endswith(("__init__", "cli")) or (
            mod.__file__ and mod.__file__.endswith("__init__.py")
        ), f"{name} declares no __all__"
        return
    missing = [n for n in exported if not hasattr(mod, n)]
    assert missing == []
    assert len(exported) == len(set(exported))


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
