"""The HTML report of a scenario run, ``<name>.html`` next to its JSON record
(``hil run``, ``make test``): the same page and figure as the demo's report
(:mod:`hil.output.page`, :mod:`hil.output.charts`; docs/reports.md), with
the scenario's verdict, its expectations and measurements.

:func:`write_run_report` takes the record (a dict, as
:func:`hil.output.record.record_dict` builds it or
:func:`hil.output.record.read_record` reads it) and the plant's trace;
:func:`hil.output.record.report_from_files` draws one again from a record
file and the trace CSV beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hil.output.charts import ReportData, figure_png
from hil.output.clinical import anticoagulation, board_facts, weight_of
from hil.output.page import ESC, anticoagulation_rows, figures_table, firmware_block, page


def _hours(t_s: Any) -> str:
    return "" if t_s is None else f"{t_s / 3600:.3f}"


def _checks_table(title: str, checks: list[dict[str, Any]]) -> str:
    """Expectations or measurements: outcome, what, expected, seen, value with unit, when."""
    if not checks:
        return ""
    rows = "".join(
        f"<tr><td class='{'' if c['outcome'] == 'pass' else 'bad'}'>{ESC(str(c['outcome']))}</td>"
        f"<td>{ESC(str(c['name']))}</td><td>{ESC(str(c.get('expected', '')))}</td>"
        f"<td>{ESC(str(c.get('seen', '')))}</td>"
        f"<td class=num>{'' if c.get('value') is None else ESC(str(c['value']))}</td>"
        f"<td>{ESC(str(c.get('unit') or ''))}</td>"
        f"<td class=num>{_hours(c.get('decided_t_s'))}</td></tr>" for c in checks)
    return (f"<h2>{ESC(title)}</h2><table><tr><th>outcome</th><th>check</th><th>expected</th><th>seen</th>"
            f"<th>value</th><th>unit</th><th>decided at (h)</th></tr>{rows}</table>")


def _columns(columns: list[str] | tuple[str, ...], rows: Any) -> dict[str, np.ndarray]:
    data = np.asarray(rows, dtype=float).reshape(-1, len(columns)) if len(rows) else np.empty((0, 0))
    return {c: data[:, k] for k, c in enumerate(columns)} if data.size else {}


def run_report_html(record: dict[str, Any], cols: dict[str, np.ndarray], table: str | None = None) -> str:
    """The page of one run's record, with the plant's trace as column ->
    values (empty: a board without a plant; the figure then has only the
    events). ``table`` names the anticoagulation table the run used, if
    not the board config's own."""
    fw = dict(record.get("firmware") or {})
    facts = board_facts(fw.get("board"), table)
    end_s = float(record.get("virtual_s") or 0.0)
    events = list(record.get("events") or [])
    if "t_s" not in cols:
        cols = {"t_s": np.array([0.0, end_s])}
    sc = record.get("scenario") or {}
    outcome = str(record.get("outcome"))
    fails = "".join(f"<li>{ESC(str(m))}</li>" for m in record.get("failures") or [])
    intro = (f"<p>{ESC(str(sc.get('description') or ''))}</p>"
             f"<p>Outcome: <b class='{'' if outcome == 'pass' else 'bad'}'>{ESC(outcome)}</b>"
             f"{' (' + ESC(str(record['error'])) + ')' if record.get('error') else ''}; "
             f"{end_s / 3600:.2f} h of virtual time; seed {sc.get('seed')}; "
             f"file {ESC(str(sc.get('file')))}.</p>" + (f"<ul class=bad>{fails}</ul>" if fails else ""))
    blocks = [firmware_block({**fw, "firmware_version": fw.get("firmware")}),
              _checks_table("Expectations", record.get("expectations") or []),
              _checks_table("Measurements", record.get("measurements") or [])]
    if "aptt_s" in cols and "heparin_u_h" in cols:
        a = anticoagulation(cols["t_s"], cols["aptt_s"], cols["heparin_u_h"], events, facts.target_s,
                            weight_of(events), end_s)
        blocks.append(figures_table("Anticoagulation", anticoagulation_rows(a)))
    shown = [e for e in events if not (e.get("type") == "command" and e.get("by") is None)]
    return page(f"Scenario {sc.get('name', '?')}", intro, blocks,
                figure_png(ReportData(cols, events, end_s, facts)), shown)


def write_run_report(record: dict[str, Any], columns: list[str] | tuple[str, ...], rows: Any, path: Path,
                     table: str | None = None) -> Path:
    """Write the HTML report of a run's record and trace (``columns``, ``rows``) to ``path``."""
    path.write_text(run_report_html(record, _columns(columns, rows), table))
    return path


__all__ = ["run_report_html", "write_run_report"]
