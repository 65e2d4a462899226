"""The campaign's table of runs.

``runs.jsonl`` (JSON lines, one row per finished run, appended as each run
arrives) is what makes a campaign resumable: started again, it reads the
rows already there and runs only the specs whose ``run_id`` has no row. A
line cut short by a stop (the last one) is ignored and its run done again.
``runs.parquet`` is the same table written through pyarrow at the end of
each invocation, for analysis tools (pandas, DuckDB, Polars): the nested
``spec`` and ``result`` as JSON text, ``measurements`` as a list of structs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = "runs.jsonl"
TABLE = "runs.parquet"


def read_rows(out: Path) -> dict[str, dict[str, Any]]:
    """The rows of ``out/runs.jsonl`` by run id (the last row of an id wins);
    rows of runs that could not be set up are left out, so they run again."""
    path = out / RESULTS
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    with path.open() as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue   # a line cut short when the campaign was stopped
            if isinstance(row, dict) and "run_id" in row and not row.get("setup_error"):
                rows[row["run_id"]] = row
    return rows


class RowWriter:
    """Appends rows to ``out/runs.jsonl``, one flushed line each."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.file = (out / RESULTS).open("a")

    def write(self, row: dict[str, Any]) -> None:
        self.file.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _schema() -> Any:
    import pyarrow as pa

    measurement = pa.struct([("name", pa.string()), ("quantity", pa.string()), ("value", pa.float64()),
                             ("unit", pa.string()), ("outcome", pa.string()), ("low", pa.float64()),
                             ("high", pa.float64())])
    timing = pa.struct([("started_at", pa.string()), ("wall_s", pa.float64()), ("worker", pa.string())])
    return pa.schema([("run_id", pa.string()), ("kind", pa.string()), ("label", pa.string()),
                      ("firmware", pa.string()), ("seed", pa.int64()), ("outcome", pa.string()),
                      ("virtual_s", pa.float64()), ("replay", pa.string()),
                      ("failures", pa.list_(pa.string())),
                      ("measurements", pa.list_(measurement)), ("timing", timing),
                      ("spec_json", pa.string()), ("result_json", pa.string())])


def write_table(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write the rows as Parquet (schema above)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    flat = [{**{k: r.get(k) for k in schema.names if k not in ("spec_json", "result_json")},
             "spec_json": json.dumps(r["spec"], sort_keys=True),
             "result_json": json.dumps(r.get("result"), sort_keys=True, default=str)} for r in rows]
    pq.write_table(pa.Table.from_pylist(flat, schema=schema), path)
    return path


__all__ = ["RESULTS", "RowWriter", "TABLE", "read_rows", "write_table"]
