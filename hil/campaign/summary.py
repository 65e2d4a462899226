"""A campaign's summary: ``summary.json`` and a self-contained
``summary.html`` (docs/campaigns.md, "Outputs").

Pass rates per run label (the scenario, ``trial/ARM``, ``linkfault``,
``powercut``) and per firmware configuration; the distribution of every
measurement per label (quantiles and a histogram, with its unit); the
failures, each with the command that replays it. A run passes when its
outcome is ``pass`` or ``marginal``; skipped runs count in neither the
numerator nor the denominator of a pass rate.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_VERSION = 1
OUTCOMES = ("pass", "marginal", "fail", "error", "skip")
MAX_FAILURES_LISTED = 200
BINS = 12


def _rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {k: sum(1 for r in rows if r["outcome"] == k) for k in OUTCOMES}
    judged = len(rows) - counts["skip"]
    passed = counts["pass"] + counts["marginal"]
    return {"runs": len(rows), "passed": passed, "pass_rate": round(passed / judged, 4) if judged else None,
            "outcomes": {k: v for k, v in counts.items() if v}}


def _group(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    names: list[str] = []
    for r in rows:
        if r[key] not in names:
            names.append(r[key])
    return {n: _rates([r for r in rows if r[key] == n]) for n in names}


def distributions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per label, per measurement: unit, count, quantiles, mean and a histogram."""
    values: dict[tuple[str, str], list[float]] = {}
    units: dict[tuple[str, str], str] = {}
    for r in rows:
        for m in r.get("measurements") or []:
            k = (r["label"], m["name"])
            units.setdefault(k, m["unit"])
            if m["value"] is not None:
                values.setdefault(k, []).append(float(m["value"]))
    out: dict[str, dict[str, Any]] = {}
    for (label, name), unit in units.items():
        v = np.asarray(values.get((label, name), []), dtype=float)
        d: dict[str, Any] = {"unit": unit, "n": int(v.size)}
        if v.size:
            q = np.quantile(v, [0.0, 0.05, 0.5, 0.95, 1.0])
            counts, edges = np.histogram(v, bins=BINS)
            d.update({"min": float(q[0]), "p05": float(q[1]), "median": float(q[2]), "p95": float(q[3]),
                      "max": float(q[4]), "mean": float(v.mean()),
                      "histogram": {"edges": [float(e) for e in edges], "counts": counts.tolist()}})
        out.setdefault(label, {})[name] = d
    return out


def summarise(c: Any, rows: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The content of summary.json for a campaign (:class:`hil.campaign.spec.Campaign`) and its rows."""
    bad = [r for r in rows if r["outcome"] in ("fail", "error")]
    return {
        "summary_version": SUMMARY_VERSION, "campaign": c.name, "file": c.path,
        "firmware": {n: c.firmware[n] for n in c.firmware_used()},
        **_rates(rows),
        "virtual_h": round(sum(float(r.get("virtual_s") or 0.0) for r in rows) / 3600.0, 3),
        "by_label": _group(rows, "label"), "by_firmware": _group(rows, "firmware"),
        "measurements": distributions(rows),
        "failures": [{"run_id": r["run_id"], "label": r["label"], "firmware": r["firmware"],
                      "seed": r["seed"], "outcome": r["outcome"], "why": (r.get("failures") or [""])[:3],
                      "replay": r.get("replay") or f"python -m hil.campaign {c.path} --rerun {r['run_id']}"}
                     for r in bad[:MAX_FAILURES_LISTED]],
        "failures_total": len(bad),
        "run": run,
    }


# -- HTML ----------------------------------------------------------------------------------------


def _rate_table(title: str, groups: dict[str, dict[str, Any]]) -> str:
    esc = html.escape
    body = "".join(
        f"<tr><td>{esc(n)}</td><td>{g['runs']}</td><td>{g['passed']}</td>"
        f"<td>{'-' if g['pass_rate'] is None else format(g['pass_rate'] * 100, '.1f') + ' %'}</td>"
        f"<td>{esc(', '.join(f'{k} {v}' for k, v in g['outcomes'].items()))}</td></tr>"
        for n, g in groups.items())
    return (f"<h2>{esc(title)}</h2><table><tr><th>{esc(title.split()[-1])}</th><th>runs</th><th>passed</th>"
            f"<th>pass rate</th><th>outcomes</th></tr>{body}</table>")


def _svg_hist(h: dict[str, Any], w: int = 160, hgt: int = 36) -> str:
    counts = h["counts"]
    top = max(counts) or 1
    bw = w / len(counts)
    bars = "".join(f"<rect x='{i * bw:.1f}' y='{hgt - c / top * hgt:.1f}' width='{bw - 1:.1f}' "
                   f"height='{c / top * hgt:.1f}'/>" for i, c in enumerate(counts))
    return f"<svg width='{w}' height='{hgt}' fill='#4a7bb7'>{bars}</svg>"


def _dist_table(dists: dict[str, dict[str, Any]]) -> str:
    esc = html.escape
    rows = []
    for label, ms in dists.items():
        for name, d in ms.items():
            cells = "".join(f"<td>{d[k]:.4g}</td>" if k in d else "<td>-</td>"
                            for k in ("min", "p05", "median", "p95", "max"))
            hist = _svg_hist(d["histogram"]) if "histogram" in d else ""
            rows.append(f"<tr><td>{esc(label)}</td><td>{esc(name)}</td><td>{esc(d['unit'])}</td>"
                        f"<td>{d['n']}</td>{cells}<td>{hist}</td></tr>")
    return ("<h2>Measurements</h2><table><tr><th>runs</th><th>measurement</th><th>unit</th><th>n</th>"
            "<th>min</th><th>5 %</th><th>median</th><th>95 %</th><th>max</th><th>histogram</th></tr>"
            + "".join(rows) + "</table>")


def write_html(s: dict[str, Any], path: Path) -> None:
    """One self-contained page."""
    esc = html.escape
    fails = "".join(f"<tr><td>{esc(f['label'])}</td><td>{esc(f['firmware'])}</td><td>{f['seed']}</td>"
                    f"<td>{esc(f['outcome'])}</td><td>{esc('; '.join(f['why']))[:400]}</td>"
                    f"<td><code>{esc(f['replay'])}</code></td></tr>" for f in s["failures"])
    run = s["run"]
    rate = "-" if s["pass_rate"] is None else f"{s['pass_rate'] * 100:.1f} %"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign {esc(s['campaign'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:2px 8px}}
code{{font-size:90%}}</style></head><body>
<h1>Campaign {esc(s['campaign'])}</h1>
<p>{s['runs']} runs ({esc(s['file'])}), {s['passed']} passed ({rate}), {s['failures_total']} failed;
{s['virtual_h']:,.1f} virtual hours. This invocation ran {run['runs_this_time']} runs
({run['runs_resumed']} were already done) on {run['workers']} worker(s) ({esc(str(run['scheduler']))})
in {run['wall_s']:.0f} s.</p>
{_rate_table('Pass rate per run label', s['by_label'])}
{_rate_table('Pass rate per firmware', s['by_firmware'])}
{_dist_table(s['measurements'])}
<h2>Failures</h2>
<table><tr><th>runs</th><th>firmware</th><th>seed</th><th>outcome</th><th>why</th><th>replay</th></tr>
{fails}</table>
</body></html>
"""
    path.write_text(page)


def write_summary(s: dict[str, Any], out: Path) -> None:
    """summary.json and summary.html into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    write_html(s, out / "summary.html")


__all__ = ["SUMMARY_VERSION", "distributions", "summarise", "write_html", "write_summary"]
