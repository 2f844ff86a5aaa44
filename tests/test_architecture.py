"""The package's structure: no import cycles, no per-domain branches outside the domain packages, a Qt-free core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from mamlviz.core.registry import BUILTIN

ROOT = Path(__file__).resolve().parents[1] / "mamlviz"
DOMAIN_PACKAGES = tuple(ROOT.parent.joinpath(*package.split(".")) for package in BUILTIN.values())
BRANCH_ALLOWED = {
    ROOT / "core" / "registry.py",
}
LOOKUPS = ("get", "names")
"""Registry functions that import the built-in domain packages when first called."""


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules `module` imports anywhere (inside functions too; not under `if TYPE_CHECKING:`)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in known}


def _looks_up_domains_at_import(tree: ast.Module) -> bool:
    """Whether module-level code (outside functions and classes) calls `registry.get` or `registry.names`."""

    def calls(node: ast.AST) -> bool:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return False
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOOKUPS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "registry"
        ):
            return True
        return any(calls(child) for child in ast.iter_child_nodes(node))

    return any(calls(node) for node in tree.body)


def import_graph() -> dict[str, set[str]]:
    """module -> the modules importing it runs.

    Importing `a.b.c` from outside package `a.b` also runs `a.b`'s `__init__`, so that is an edge too.
    A module that looks domains up in the registry at import time also runs the built-in domain packages.
    """
    modules = _modules()
    known = set(modules)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = set()
        for target in _imports(tree, module, path.name == "__init__.py", known):
            parts = target.split(".")
            for depth in range(1, len(parts) + 1):
                ancestor = ".".join(parts[:depth])
                if ancestor in known and not (module == ancestor or module.startswith(ancestor + ".")):
                    edges.add(ancestor)
        if _looks_up_domains_at_import(tree):
            edges.update(BUILTIN.values())
        graph[module] = edges - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "mamlviz.core.registry" in graph["mamlviz.core.config"]
    assert "mamlviz.core.omniglot" in graph["mamlviz.core.presets"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_sees_a_lazy_import_inside_a_function():
    graph = {"a": {"b"}, "b": set()}
    tree = ast.parse("def f():\n    from mamlviz.core import train\n")
    graph["b"] = _imports(tree, "b", False, {"mamlviz.core", "mamlviz.core.train"})
    assert graph["b"] == {"mamlviz.core", "mamlviz.core.train"}
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def _mentions_domain(node: ast.AST) -> bool:
    return any(
        (isinstance(sub, ast.Name) and "domain" in sub.id.lower())
        or (isinstance(sub, ast.Attribute) and "domain" in sub.attr.lower())
        for sub in ast.walk(node)
    )


def _is_constant(node: ast.AST) -> bool:
    """A string, a collection of strings, or an UPPER_CASE name (e.g. PLAYGROUND_DOMAIN)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_is_constant(element) for element in node.elts)
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.isupper()


def domain_branches(source: str) -> list[int]:
    """Lines that compare a domain with a given one (`cfg.domain == "omniglot"`, `domain in ("a", "b")`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, operand in enumerate(operands):
                others = operands[:i] + operands[i + 1 :]
                if _mentions_domain(operand) and not _is_constant(operand) and any(map(_is_constant, others)):
                    lines.append(node.lineno)
                    break
        elif isinstance(node, ast.Match) and _mentions_domain(node.subject):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_the_branch_finder_sees_the_usual_forms():
    source = (
        'if cfg.domain == "omniglot": pass\n'
        'if "sinusoid" != init.config.domain: pass\n'
        'if domain in ("a", "b"): pass\n'
        "if init.config.domain == PLAYGROUND_DOMAIN: pass\n"
        'if self.domain.currentData() == "omniglot": pass\n'
        "if init.config.domain == domain: pass\n"
        "if a.domain != b.domain: pass\n"
    )
    assert domain_branches(source) == [1, 2, 3, 4, 5]


def test_no_domain_branch_outside_the_registry_and_the_domain_packages():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path in BRANCH_ALLOWED or any(package in path.parents for package in DOMAIN_PACKAGES):
            continue
        found += [f"{path.relative_to(ROOT.parent)}:{line}" for line in domain_branches(path.read_text("utf-8"))]
    assert not found, "route these through mamlviz.core.registry.get(domain): " + ", ".join(found)


def test_core_and_cli_import_without_qt():
    code = (
        "import sys, mamlviz.core, mamlviz.cli, mamlviz.core.sinusoid.playground, mamlviz.core.train, "
        "mamlviz.core.checkpoint, mamlviz.core.presets\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
