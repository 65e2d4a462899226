"""pytest plugin (loaded with ``-p hil.trace.pytest_plugin`` from
pyproject's addopts): what each test verifies, checked at collection, put
in the JUnit XML, and summed up at the end of the run.

A Python test says ``@pytest.mark.verifies("SR-AIR-1", ...)``. The firmware
tests in ``tests/firmware/fwtests`` also run in the MicroPython VM, where
there is no pytest: such a module says ``VERIFIES = {"test_name":
("SR-...",), ...}`` instead. A scenario item (``hil/pytest_plugin.py``)
carries its file's ``verifies:``, which the scenario reader has checked.
An unknown id stops the run at collection with the file and line. Each
test case gets the JUnit properties ``verifies`` (ids, space-separated),
``trace_kind`` (``scenario`` or ``test``) and ``trace_name``, which
``python -m hil.trace`` reads.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from hil.trace.registry import RegistryError, check_ids, default_registry
from hil.trace.results import Result

_RESULTS = pytest.StashKey[dict[str, Result]]()
# An item's kind (scenario or test), file and the ids it verifies.
_ITEM = pytest.StashKey[tuple[str, str, tuple[str, ...]]]()


def _line_of(text: list[str], needle: str, start: int) -> int:
    """The 1-based line at or after ``start`` where ``needle`` first occurs (else ``start``)."""
    for i in range(max(start - 1, 0), len(text)):
        if needle in text[i]:
            return i + 1
    return start


def _declared(item: pytest.Item) -> tuple[str, list[tuple[str, int]]]:
    """The file of an item and the requirement ids it declares, each with its line."""
    sc = getattr(item, "scenario", None)
    if sc is not None:
        return str(sc.path), [(rid, sc.line_of.get("verifies", 0)) for rid in sc.verifies]
    fn = getattr(item, "function", None)
    path = str(item.path)
    code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
    line = code.co_firstlineno if code is not None else 0
    ids = [(str(rid), line) for m in item.iter_markers("verifies") for rid in m.args]
    table = getattr(getattr(item, "module", None), "VERIFIES", None)
    name = getattr(item, "originalname", item.name)
    if isinstance(table, dict) and name in table:
        text = Path(path).read_text(encoding="utf-8").splitlines()
        start = _line_of(text, "VERIFIES", 1)
        ids += [(str(rid), _line_of(text, f'"{rid}"', _line_of(text, f'"{name}"', start)))
                for rid in table[name]]
    return path, ids


def _check_tables(items: list[pytest.Item]) -> None:
    """Each key of a module's VERIFIES must be a test function of that module."""
    modules = {id(m): m for m in (getattr(i, "module", None) for i in items) if m is not None}
    for mod in modules.values():
        table = getattr(mod, "VERIFIES", None)
        if not isinstance(table, dict):
            continue
        for name in table:
            if not (str(name).startswith("test") and callable(getattr(mod, str(name), None))):
                path = str(getattr(mod, "__file__", mod.__name__))
                text = Path(path).read_text(encoding="utf-8").splitlines()
                line = _line_of(text, f'"{name}"', _line_of(text, "VERIFIES", 1))
                raise pytest.UsageError(f"{path}:{line}: VERIFIES names '{name}', which is no test "
                                        "function of this module")


def _rel(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Check every declared id; tag each item for the JUnit XML."""
    _check_tables(items)
    declared = [(item, *_declared(item)) for item in items]
    try:
        registry = default_registry() if any(ids for _, _, ids in declared) else None
    except RegistryError as e:
        raise pytest.UsageError(str(e)) from None
    for item, path, ids in declared:
        rel = _rel(path, config.rootpath)
        try:
            verifies = check_ids(ids, rel, registry) if registry is not None else ()
        except RegistryError as e:
            raise pytest.UsageError(f"{e} (test {item.nodeid})") from None
        kind = "scenario" if getattr(item, "scenario", None) is not None else "test"
        item.user_properties += [("verifies", " ".join(dict.fromkeys(verifies))), ("trace_kind", kind),
                                 ("trace_name", item.name if kind == "scenario" else item.nodeid)]
        item.stash[_ITEM] = (kind, rel, tuple(dict.fromkeys(verifies)))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    rep = outcome.get_result()
    info = item.stash.get(_ITEM, None)
    if info is None or (rep.when != "call" and rep.passed):
        return
    kind, rel, verifies = info
    name = item.name if kind == "scenario" else item.nodeid
    verdict = "passed" if rep.passed else "skipped" if rep.skipped else (
        "failed" if rep.when == "call" else "error")
    results = item.config.stash[_RESULTS]
    record = dict(item.user_properties).get("record")
    prev = results.get(name)
    if prev is None or prev.outcome == "passed":
        results[name] = Result(kind, name, rel, verdict, verifies, record)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The run's requirements section: counts and gaps, for this run's tests only."""
    results = list(config.stash.get(_RESULTS, {}).values())
    if not any(r.verifies for r in results):
        return
    from hil.trace.__main__ import scenario_library, summary_lines
    from hil.trace.identity import identity
    from hil.trace.matrix import build, library_results
    from hil.trace.results import hello_of, with_records
    from hil.scenario.source import ScenarioError

    results = with_records(results)
    try:
        results = library_results(results, scenario_library())
    except ScenarioError as e:
        terminalreporter.write_line(f"requirements trace: scenario library unreadable: {e}")
        return
    m = build(default_registry(), results, identity(hello_of(results)), "this run")
    terminalreporter.section("requirements trace")
    for line in summary_lines(m, brief=True):
        terminalreporter.write_line(line)
    terminalreporter.write_line("(this run's tests only; `make trace` writes out/trace/matrix.json and "
                                "matrix.html from out/junit.xml)")
