"""Architecture limits of the source tree (firmware/, hil/, host/; tests excluded).

- no import cycle among the project's own modules (``hil.*``, ``host.*`` and
  firmware's bare-name modules such as ``link`` or ``hal.rp2``; every import
  counts, also one inside a function);
- no module longer than MAX_MODULE_LINES lines;
- no function longer than MAX_FUNCTION_LINES lines (``end_lineno - lineno + 1``
  of its ``def``, as ``ast`` gives them; methods and nested functions each count).

KNOWN_OVER is a ratchet: the offenders the tree had when this test was written,
with their sizes then. The test fails when a listed one grows, when one not
listed goes over a limit, and when a listed one is back within its limit but
still listed (delete its line). So the list can only shrink.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80

# Source roots and how their modules are named: "dotted" gives hil.scenario.reader
# (the root folder is a package), "bare" gives firmware's names as MicroPython
# imports them (firmware/ is on its path: link, hal.rp2, devices.pump).
SOURCES = (("hil", "dotted"), ("host", "dotted"), ("firmware", "bare"))

# The current offenders: "path" for a module (its length in lines),
# "path::Qual.name" for a function (its length in lines). Only shrinks.
KNOWN_OVER: dict[str, int] = {}


# -- measuring ------------------------------------------------------------------


def module_name(rel: Path, style: str) -> str:
    """The import name of a source file (``rel`` relative to the repository root)."""
    parts = list(rel.with_suffix("").parts)
    if style == "bare":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(root: Path, sources=SOURCES) -> list[tuple[Path, str, str]]:
    """(path relative to root, module name, namespace) of every source file."""
    out = []
    for top, style in sources:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if "tests" in rel.parts or "__pycache__" in rel.parts:
                continue
            out.append((rel, module_name(rel, style), top if style == "bare" else "dotted"))
    return out


def _functions(tree: ast.AST) -> list[tuple[str, int]]:
    """(qualified name, length in lines) of every function, methods and nested ones included."""
    out: list[tuple[str, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append((name, child.end_lineno - child.lineno + 1))
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement refers to ("from a import b" gives "a.b":
    module a.b if there is one, else a name in a)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{a.name}" if prefix else a.name for a in node.names]


def measure(root: Path, sources=SOURCES):
    """Module lengths, function lengths and the import graph of the tree at ``root``.

    Returns:
        (sizes, graph): sizes maps "path" and "path::func" to lines;
        graph maps (namespace, module) to the set of (namespace, module) it imports.
    """
    files = source_files(root, sources)
    known = {(ns, mod) for _, mod, ns in files}
    sizes: dict[str, int] = {}
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for rel, mod, ns in files:
        text = (root / rel).read_text(encoding="utf-8")
        key = rel.as_posix()
        sizes[key] = len(text.splitlines())
        tree = ast.parse(text, filename=key)
        for name, n in _functions(tree):
            sizes[f"{key}::{name}"] = n
        edges = graph.setdefault((ns, mod), set())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, mod, rel.name == "__init__.py"):
                # The longest prefix that is one of ours: "import a.b.c" or
                # "from a.b import c" (c a module or a name in a.b).
                parts = target.split(".")
                for i in range(len(parts), 0, -1):
                    t = (ns, ".".join(parts[:i]))
                    if t in known:
                        if t != (ns, mod):
                            edges.add(t)
                        break
    return sizes, graph


def cycles(graph: dict) -> list[list]:
    """The import cycles: strongly connected components of more than one module (Tarjan)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    out: list[list] = []
    counter = [0]

    def visit(v) -> None:
        # Iterative, so a long chain of imports cannot hit the recursion limit.
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def ratchet(sizes: dict[str, int], known: dict[str, int]) -> list[str]:
    """What breaks the limits or the KNOWN_OVER ratchet, one line each."""
    problems = []
    for key, n in sorted(sizes.items()):
        limit = MAX_FUNCTION_LINES if "::" in key else MAX_MODULE_LINES
        what = "function" if "::" in key else "module"
        if n > limit and key not in known:
            problems.append(f"{key}: {what} of {n} lines, over the limit of {limit}")
    for key, was in sorted(known.items()):
        limit = MAX_FUNCTION_LINES if "::" in key else MAX_MODULE_LINES
        n = sizes.get(key)
        if n is None or n <= limit:
            problems.append(f"{key}: now {n} lines, within the limit of {limit}: "
                            "remove it from KNOWN_OVER")
        elif n > was:
            problems.append(f"{key}: grew from {was} to {n} lines (over the limit of {limit})")
    return problems


# -- the tree -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _tree() -> tuple[dict[str, int], dict]:
    return measure(ROOT)


def test_no_import_cycle() -> None:
    _, graph = _tree()
    # The graph is read at all: firmware and the host side each import their own modules.
    assert ("firmware", "controller") in graph[("firmware", "app")]
    assert ("dotted", "hil.transport.frames") in graph[("dotted", "hil.loop.closed")]
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(
        " <-> ".join(m for _, m in comp) for comp in found)


def test_sizes_within_limits_or_known() -> None:
    sizes, _ = _tree()
    problems = ratchet(sizes, KNOWN_OVER)
    assert not problems, "\n".join(problems)


# -- the checker itself can fail -----------------------------------------------


def _synthetic(tmp_path: Path) -> Path:
    pkg = tmp_path / "hil"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from hil import b\n")
    (pkg / "b.py").write_text("def f():\n    from hil.sub import c\n")
    (pkg / "sub" / "c.py").write_text("from .. import a\n")
    long_body = "".join("        x = %d\n" % i for i in range(MAX_FUNCTION_LINES))
    (pkg / "d.py").write_text("class K:\n    def long(self):\n" + long_body + "\n" * MAX_MODULE_LINES)
    fw = tmp_path / "firmware"
    fw.mkdir()
    (fw / "x.py").write_text("import y\n")
    (fw / "y.py").write_text("try:\n    from x import z\nexcept ImportError:\n    pass\n")
    (fw / "z.py").write_text("import d\n")   # "d" is hil's, not firmware's: no edge
    return tmp_path


def test_checker_flags_cycles(tmp_path: Path) -> None:
    _, graph = measure(_synthetic(tmp_path))
    found = cycles(graph)
    assert sorted([m for _, m in comp] for comp in found) == [["hil.a", "hil.b", "hil.sub.c"], ["x", "y"]]
    # An acyclic graph passes.
    graph[("dotted", "hil.sub.c")] = set()
    graph[("firmware", "y")] = set()
    assert cycles(graph) == []


def test_checker_flags_sizes_and_ratchet(tmp_path: Path) -> None:
    sizes, _ = measure(_synthetic(tmp_path))
    assert sizes["hil/d.py::K.long"] == MAX_FUNCTION_LINES + 1
    assert sizes["hil/d.py"] == MAX_FUNCTION_LINES + 2 + MAX_MODULE_LINES
    new = ratchet(sizes, {})
    assert len(new) == 2 and "over the limit" in new[0] and "K.long" in new[1]
    exact = {"hil/d.py": sizes["hil/d.py"], "hil/d.py::K.long": sizes["hil/d.py::K.long"]}
    assert ratchet(sizes, exact) == []
    grown = ratchet(sizes, {k: v - 1 for k, v in exact.items()})
    assert len(grown) == 2 and all("grew" in p for p in grown)
    stale = ratchet(sizes, {**exact, "hil/a.py": 500, "hil/gone.py": 500})
    assert len(stale) == 2 and all("remove it from KNOWN_OVER" in p for p in stale)
