"""The package's shape: imports point one way (no cycle, even through imports inside
functions), and one module owns the run directory's file names."""
import ast
from pathlib import Path

import stickpose

PACKAGE = Path(stickpose.__file__).parent
RUN_FILES = ("config.json", "best.keras", "history.csv", "evaluation.json", "backup",
             "decoder-fc.keras", "handedness.npz", "handedness.joblib")


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The stickpose modules ``path`` imports anywhere (module top or function bodies)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / (full.replace(".", "/") + ".py")).is_file() or \
                    (PACKAGE.parent / full.replace(".", "/")).is_dir()
                found.add(full if is_module else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("stickpose") and m != module}


def graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    # a package's own __init__ is not an edge worth following (it imports nothing here)
    return {m: {d for d in _imports(p) if d in modules and modules[d].name != "__init__.py"}
            for m, p in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if state.get(other) == "open":
                return stack[stack.index(other):] + [other]
            if other not in state and (cycle := visit(other)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert "stickpose.runs" in edges["stickpose.training"]          # the graph is real
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_layers_point_one_way():
    """skeleton -> data / codecs / models -> runs -> training / evaluate -> leaderboard -> cli."""
    edges = graph()

    def part(module):
        return (module.split(".") + [""])[1]
    below_runs = [m for m in edges if part(m) in ("data", "codecs", "models")]
    for module in below_runs:
        upward = {d for d in edges[module] if part(d) in
                  ("runs", "training", "evaluate", "leaderboard", "cli", "report", "show",
                   "predict", "bench", "export")}
        assert not upward, f"{module} imports {upward}"
    assert not any(d.startswith("stickpose.cli") for m, ds in edges.items()
                   if not m.startswith("stickpose.cli") and m != "stickpose.__main__"
                   for d in ds)


def test_only_runs_spells_a_run_file_name():
    owners = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "runs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in RUN_FILES:
                owners.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert not owners, owners
