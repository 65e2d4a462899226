"""The matrix as a page (``matrix.html``) and the registry as
``docs/requirements.md``. Both are plain text functions of their input:
the same matrix gives the same page."""

from __future__ import annotations

from html import escape
from typing import Any

from hil.trace.registry import Registry

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eee;text-align:left}.passed{color:#060}.failed,.error{color:#b00;font-weight:bold}
.gap,.not-passed,.no-verifying-test,.not-run,.skipped{color:#a50;font-weight:bold}
.gaps{border:2px solid #b00;padding:.5em 1em;background:#fff5f5}.ok{border:2px solid #060;padding:.5em 1em}
code{font-size:90%}"""


def _cls(status: str) -> str:
    return status.replace(" ", "-")


def _verdicts(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "<span class='no-verifying-test'>none</span>"
    items = []
    for e in entries:
        where = "the virtual board" if e.get("virtual_board") else "a board on a port"
        board = f" ({where}, config {escape(str(e['board']))})" if e.get("board") else ""
        items.append(f"<code>{escape(e['name'])}</code>{board}: "
                     f"<span class='{_cls(e['outcome'])}'>{escape(e['outcome'])}</span>")
    return "<br>".join(items)


def _gaps(m: dict[str, Any]) -> str:
    g = m["gaps"]
    rows = [("Safety-critical requirements without a passing verifying test (CI fails)",
             g["safety_critical_without_passing_test"]),
            ("Requirements without any verifying test", g["requirements_without_verifying_test"]),
            ("Requirements whose verifying tests did not pass", g["requirements_without_passing_test"]),
            ("Requirements without a passing scenario on the virtual board",
             g["requirements_without_passing_scenario_on_virtual_board"]),
            ("Scenarios that verify nothing", g["scenarios_verifying_nothing"])]
    shown = [(t, ids) for t, ids in rows if ids]
    tests = g["tests_verifying_nothing"]
    box = "gaps" if shown else "ok"
    out = [f"<div class='{box}'><h2>Gaps</h2>"]
    if not shown:
        out.append("<p>Every requirement has a passing verifying test and a passing scenario on the "
                   "virtual board; every scenario verifies a requirement.</p>")
    for title, ids in shown:
        out.append(f"<p><b>{escape(title)}</b> ({len(ids)}): " + ", ".join(
            f"<a href='#{escape(i)}'>{escape(i)}</a>" if i.startswith("SR-") else f"<code>{escape(i)}</code>"
            for i in ids) + "</p>")
    out.append(f"<details><summary>Python tests that verify no requirement: {len(tests)}</summary><p>"
               + "<br>".join(f"<code>{escape(t)}</code>" for t in tests) + "</p></details></div>")
    return "\n".join(out)


def matrix_html(m: dict[str, Any]) -> str:
    """The page of a matrix built by :func:`hil.trace.matrix.build`."""
    b, s = m["build"], m["summary"]
    head = (f"<h1>Requirements traceability: firmware {escape(str(b.get('firmware_version')))}, "
            f"build {escape(str(b.get('build')))}</h1>"
            f"<p>Build hash reported by the board: <code>{escape(str(b.get('build_reported_by_board')))}"
            f"</code>; computed from the sources: <code>{escape(str(b.get('build_computed')))}</code> "
            f"({escape(str(b.get('build_computed_with')))}). "
            f"Verdicts from <code>{escape(m['source'])}</code>: "
            f"{s['scenarios']} scenarios, {s['tests']} tests; {s['passed']} of {s['requirements']} "
            f"requirements ({s['safety_critical']} safety-critical) verified by a passing test; "
            f"{s['hazards_with_gaps']} of {s['hazards']} hazards with a gap in their controls.</p>")
    req_rows = "\n".join(
        f"<tr id='{escape(r['id'])}'><td><b>{escape(r['id'])}</b>"
        f"{' (safety-critical)' if r['safety_critical'] else ''}"
        f"</td><td>{escape(r['text'])}<br><small>Source: {escape(r['source'])}</small></td>"
        f"<td class='{_cls(r['status'])}'>{escape(r['status'])}</td><td>{_verdicts(r['scenarios'])}</td>"
        f"<td>{_verdicts(r['tests'])}</td></tr>" for r in m["requirements"])
    haz_rows = "\n".join(
        f"<tr><td><b>{escape(h['id'])}</b></td><td>{escape(h['hazard'])}</td><td>{escape(h['cause'])}</td>"
        f"<td>{escape(h['control'])}</td><td>" + "<br>".join(
            f"<a href='#{escape(c['id'])}'>{escape(c['id'])}</a>: "
            f"<span class='{_cls(c['status'])}'>{escape(c['status'])}</span>" for c in h["controls"])
        + f"</td><td class='{_cls(h['status'])}'>{escape(h['status'])}</td></tr>" for h in m["hazards"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Traceability matrix</title>"
            f"<style>{_CSS}</style></head><body>{head}\n{_gaps(m)}\n<h2>Requirements</h2><table>"
            "<tr><th>id</th><th>requirement</th><th>status</th><th>scenarios</th><th>tests</th></tr>\n"
            f"{req_rows}</table>\n<h2>Hazards and their risk controls</h2>"
            "<table><tr><th>id</th><th>hazard</th>"
            f"<th>cause</th><th>risk control</th><th>requirements</th><th>status</th></tr>\n{haz_rows}"
            "</table></body></html>\n")


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def requirements_md(reg: Registry) -> str:
    """``docs/requirements.md``, rendered from the registry."""
    lines = [
        "# Requirements and hazards",
        "",
        "<!-- Rendered from requirements/*.yaml by `python -m hil.trace --docs`; edit the YAML, "
        "not this file. -->",
        "",
        "The firmware's software requirements, each with a stable id and its source (a standard, a",
        "figure of the domain reference or a design decision), and the hazards whose risk controls",
        "they implement. Scenario files name the requirements they verify with",
        "`verifies: [SR-...]`, Python tests with `@pytest.mark.verifies(\"SR-...\")`; `make trace`",
        "writes the matrix of the last test run to `out/trace/` (docs/scenarios.md, \"Requirements",
        "it verifies\"). CI fails when a safety-critical requirement has no passing verifying test.",
        "The standards are named by their subject (IEC 60601-2-16 protective systems, IEC 60601-1-8",
        "alarms) as domain.md gives them, without clause numbers.",
        "",
        "## Requirements",
        "",
        "| id | requirement | source | function | safety-critical |",
        "|---|---|---|---|---|",
    ]
    for r in reg.requirements:
        alarm = f" (alarm `{r.alarm}`)" if r.alarm else ""
        lines.append(f"| {r.id} | {_md(r.text)} | {_md(r.source)} | {_md(r.function)}{alarm} | "
                     f"{'yes' if r.safety_critical else 'no'} |")
    lines += ["", "## Hazards", "", "| id | hazard | cause | risk control | requirements |",
              "|---|---|---|---|---|"]
    for h in reg.hazards:
        lines.append(f"| {h.id} | {_md(h.hazard)} | {_md(h.cause)} | {_md(h.control)} | "
                     f"{', '.join(h.requirements)} |")
    return "\n".join(lines) + "\n"
