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
