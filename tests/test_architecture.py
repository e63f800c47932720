"""The architecture holds: the layer contracts of pyproject.toml ([tool.importlinter]) and no
reach into another package's private names."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "sonobridge"


def test_layer_contracts_hold():
    tool = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(tool), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:]


def _package(module: Path) -> str:
    return ".".join(module.relative_to(SOURCE).parent.parts)


def test_no_private_name_is_imported_from_another_package():
    """``from .x import _name`` stays inside one package: private names are no interface."""
    crossings = []
    for module in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") and not a.name.startswith("__")
                                                         for a in node.names):
                if node.level == 0 or node.level > 1 or (node.module or "").count("."):
                    crossings.append(f"{module.relative_to(SOURCE)}:{node.lineno} "
                                     f"{'.' * node.level}{node.module} {[a.name for a in node.names]}")
    assert not crossings, "\n".join(crossings)


def _modules_with_examples() -> list[str]:
    return sorted("sonobridge." + ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
                  for path in SOURCE.rglob("*.py") if ">>>" in path.read_text())


def test_docstring_examples_run():
    """Every ``>>>`` example in the package's docstrings runs and gives what it shows."""
    import doctest
    import importlib

    failures = []
    for name in _modules_with_examples():
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        if result.failed:
            failures.append(f"{name}: {result.failed} of {result.attempted} failed")
    assert not failures, "\n".join(failures)


def _module_names() -> list[str]:
    """Dotted names of every public module and of every package that defines something (no
    ``_private`` module, no ``__main__``, no package whose ``__init__`` is only a docstring)."""
    names = []
    for path in SOURCE.rglob("*.py"):
        parts = ("sonobridge", *path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            body = ast.parse(path.read_text()).body
            if all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body):
                continue
            parts = parts[:-1]
        if not parts[-1].startswith("_"):
            names.append(".".join(parts))
    return sorted(names)


def _names_tests_use() -> set[str]:
    """Every dotted module name the test files import (``import a.b``, ``from a.b import c`` gives
    ``a.b`` and ``a.b.c``) or name in a string (``python -m sonobridge.cli``)."""
    used = set()
    for test in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.Import):
                used.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module)
                used.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.update(word for word in node.value.split() if word.startswith("sonobridge."))
    return used


def test_every_module_has_a_test_that_imports_it():
    """Each public module of src/sonobridge is imported by name in some test (its own test file in
    the mirror folder: tests/<area>/test_<module>.py), not only reached through another module."""
    used = _names_tests_use()
    untested = [name for name in _module_names() if name not in used]
    assert not untested, "modules no test imports directly:\n" + "\n".join(untested)


def test_nothing_inside_the_package_imports_the_root_package():
    """The root ``sonobridge`` offers lazy names (VideoReader, export_video) that load formats:
    importing it from inside would pass the layer contracts while reaching a format around them."""
    offenders = []
    for module in SOURCE.rglob("*.py"):
        if module == SOURCE / "__init__.py":
            continue
        depth = len(module.relative_to(SOURCE).parts)          # 1: a module directly in sonobridge/
        for node in ast.walk(ast.parse(module.read_text())):
            root = (isinstance(node, ast.ImportFrom) and node.module is None and node.level == depth) or \
                (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "sonobridge") or \
                (isinstance(node, ast.Import) and any(a.name == "sonobridge" for a in node.names))
            if root:
                offenders.append(f"{module.relative_to(SOURCE)}:{node.lineno}")
    assert not offenders, "\n".join(offenders)
