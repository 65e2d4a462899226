"""``python -m hil.trace``: the traceability matrix of the last test run.

    python -m hil.trace                       # out/junit.xml -> out/trace/matrix.json, matrix.html
    python -m hil.trace --strict              # exit 1 if a safety-critical requirement has no passing test
    python -m hil.trace --docs                # write docs/requirements.md from requirements/*.yaml

Exit codes: 0 written, 1 strict check failed, 2 unusable input (no JUnit
file, a malformed requirements or scenario file), named with its line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hil.scenario.source import ScenarioError
from hil.trace.identity import identity
from hil.trace.matrix import build, library_results, strict_failures
from hil.trace.registry import ROOT, Registry, load_registry
from hil.trace.render import matrix_html, requirements_md
from hil.trace.results import JUnitError, hello_of, read_junit, with_records

DOCS = ROOT / "docs" / "requirements.md"


def scenario_library(folder: Path = ROOT / "scenarios") -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each library scenario's name -> (file, requirement ids it verifies).

    Raises:
        ScenarioError: a malformed scenario file (file:line).
    """
    from hil.scenario import load

    out = {}
    for f in sorted(folder.glob("*.y*ml")):
        sc = load(str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f))
        out[sc.name] = (sc.path, sc.verifies)
    return out


def make_matrix(junit: Path, registry: Registry, records: Path | None = None) -> dict[str, Any]:
    """The matrix of the run whose JUnit XML is ``junit``."""
    results = with_records(read_junit(junit), records)
    results = library_results(results, scenario_library())
    try:
        src = str(junit.resolve().relative_to(ROOT))
    except ValueError:
        src = str(junit)
    return build(registry, results, identity(hello_of(results)), src)


def write(matrix: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``out/matrix.json`` and ``out/matrix.html``."""
    out.mkdir(parents=True, exist_ok=True)
    j, h = out / "matrix.json", out / "matrix.html"
    j.write_text(json.dumps(matrix, indent=1) + "\n", encoding="utf-8")
    h.write_text(matrix_html(matrix), encoding="utf-8")
    return j, h


def summary_lines(matrix: dict[str, Any], brief: bool = False) -> list[str]:
    """A few lines for a terminal: counts, then the gaps (``brief``: the ids
    of the safety-critical ones only, counts of the others)."""
    s, g, b = matrix["summary"], matrix["gaps"], matrix["build"]
    lines = [f"firmware {b.get('firmware_version')} build {b.get('build')}: {s['passed']} of "
             f"{s['requirements']} requirements verified by a passing test "
             f"({s['safety_critical']} safety-critical); {s['hazards_with_gaps']} of {s['hazards']} "
             f"hazards with a gap"]
    for key, ids in g.items():
        if not ids:
            continue
        listed = key != "tests_verifying_nothing" and (not brief or key.startswith("safety_critical"))
        lines.append(f"  {key.replace('_', ' ')}: " + (", ".join(ids) if listed else str(len(ids))))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.trace", description=__doc__.split("\n\n")[0])
    ap.add_argument("--junit", default="out/junit.xml", help="JUnit XML of the run (default out/junit.xml)")
    ap.add_argument("--records", default="out/scenarios",
                    help="folder of the scenario records, for runs whose JUnit names none")
    ap.add_argument("--out", default="out/trace", help="folder of matrix.json and matrix.html")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 if a safety-critical requirement has no passing verifying test")
    ap.add_argument("--docs", action="store_true", help="write docs/requirements.md from the registry, only")
    args = ap.parse_args(argv)
    try:
        registry = load_registry()
        if args.docs:
            DOCS.write_text(requirements_md(registry), encoding="utf-8")
            print(f"wrote {DOCS.relative_to(ROOT)}")
            return 0
        matrix = make_matrix(Path(args.junit), registry, Path(args.records))
    except (ScenarioError, JUnitError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    j, h = write(matrix, Path(args.out))
    print("\n".join(summary_lines(matrix)))
    print(f"wrote {j} and {h}")
    bad = strict_failures(matrix)
    if args.strict and bad:
        print(f"FAIL: safety-critical requirements without a passing verifying test: {', '.join(bad)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
