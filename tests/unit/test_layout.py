"""The package layout: every module imports on its own, no module cycle, the sandbox kept apart."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("intercom_pipeline", "intercom_sandbox")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its file (a function's body included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        imported |= {t for t in targets if t in modules and t != name}
    return imported


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, if it has any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state and (found := visit(child)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A package's __init__ re-exporting its modules is not a cycle with them.
    return {
        name: {t for t in targets if not name.startswith(f"{t}.")}
        for name, targets in graph.items()
    }


def test_no_module_imports_itself_through_others():
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh copy of the packages: a cycle would fail it."""
    script = (
        "import importlib, sys\n"
        f"names = {sorted(_modules())!r}\n"
        "for name in names:\n"
        f"    for loaded in [m for m in sys.modules if m.startswith({PACKAGES!r})]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == len(_modules())


def test_the_pipeline_imports_the_sandbox_only_where_the_demo_starts_it():
    importers = {
        name
        for name, targets in _graph().items()
        if name.startswith("intercom_pipeline")
        and any(t.startswith("intercom_sandbox") for t in targets)
    }
    assert importers == {"intercom_pipeline.demo"}


def test_the_sandbox_does_not_import_the_pipeline():
    graph = _graph()
    assert not {
        (name, t)
        for name, targets in graph.items()
        if name.startswith("intercom_sandbox")
        for t in targets
        if t.startswith("intercom_pipeline")
    }


# Functions that are data more than logic: the sandbox's generated workspace.
LONG_BY_DESIGN = {"intercom_sandbox.generator"}


def test_no_function_is_longer_than_a_screen():
    """Functions read top to bottom; one that needs more than ~80 lines needs splitting."""
    too_long = []
    for name, path in _modules().items():
        if name in LONG_BY_DESIGN:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    too_long.append(f"{name}.{node.name}: {lines} lines")
    assert not too_long
