"""fastopt.bench is a table and machinery around it: no import cycle inside the package.

The import graph is read from the sources' ASTs, every ``import`` counted (those
inside functions too: a lazy import that closes a cycle is still a cycle), so
the check does not depend on what happens to be imported already.
"""
import ast
import pathlib

import fastopt.bench

PACKAGE = "fastopt.bench"
ROOT = pathlib.Path(fastopt.bench.__file__).parent


def _module_name(path):
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def import_graph(root=ROOT):
    """{module: set of fastopt.bench modules it imports} for every module of the package."""
    paths = {_module_name(p): p for p in sorted(root.glob("*.py"))}
    graph = {}
    for name, path in paths.items():
        package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + [base] if base else parts)
                for alias in node.names:  # `from . import x`: the submodule x, else the package
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in paths else base)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def find_cycle(graph):
    """One import cycle ``[a, b, ..., a]`` of *graph*, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_bench_package_has_no_import_cycle():
    graph = import_graph()
    assert {f"{PACKAGE}.cases", f"{PACKAGE}.dispatch", f"{PACKAGE}.runner"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in fastopt.bench: " + " -> ".join(cycle)


def test_case_table_imports_no_machinery():
    """cases.py is data: of fastopt it imports the kernel spec (data) alone, nothing of
    fastopt.bench."""
    tree = ast.parse((ROOT / "cases.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = "fastopt" + "." * (node.level - 1) + (node.module or "") if node.level \
                else (node.module or "")
            assert not module.startswith("fastopt") or module == "fastopt.kernel_spec", \
                f"cases.py line {node.lineno} imports {'.' * node.level}{node.module or ''}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("fastopt") for a in node.names), node.lineno
