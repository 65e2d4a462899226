"""The distributed path for real: a ``dask scheduler`` and two ``dask worker``
processes started separately, on free localhost ports, over TCP, and a small
campaign (a short scenario x 2 seeds x 2 patients x 2 firmware
configurations, a few virtual minutes each) run through them with ``--scheduler``.

Checks that every run arrives with its verdict and measurements, that both
workers took runs, that a campaign started again skips what is done, and
that the same runs on a fresh table give the same rows outside ``timing``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.campaign.command import main

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"

SCENARIO = """\
name: campaign_probe
description: A few virtual minutes of setting up, for the campaign tests.
seed: 1
duration: 4 min
expect:
  - no_alarm: any
    priority: high
measure:
  - name: il6_end
    quantity: IL-6
    stat: last
    unit: pg/mL
    limits: [0, 1000000]
"""

CAMPAIGN = """\
campaign: tcp-probe
firmware:
  raschke: table:raschke
groups:
  - kind: scenarios
    scenarios: [{scenario}]
    seeds: [3, 4]
    patients: [{{}}, {{weight_kg: 55, severity: mild}}]
    firmware: [table, raschke]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, each its own process, over TCP."""
    if not DASK.exists():
        pytest.fail(f"the dask command is missing beside {sys.executable}: pip install 'dask[distributed]'")
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=(logs / "scheduler.log").open("w"))]
    for i in (1, 2):
        procs.append(subprocess.Popen(
            [str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1", "--name", f"w{i}",
             "--host", "127.0.0.1", "--no-dashboard"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=(logs / f"worker{i}.log").open("w")))
    try:
        from distributed import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=120)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _rows(out: Path) -> dict[str, dict]:
    return {r["run_id"]: r for r in map(json.loads, (out / "runs.jsonl").read_text().splitlines())}


def test_campaign_on_a_tcp_cluster(cluster, tmp_path):
    sc = tmp_path / "campaign_probe.yaml"
    sc.write_text(SCENARIO)
    spec = tmp_path / "campaign.yaml"
    spec.write_text(CAMPAIGN.format(scenario=sc))
    out = tmp_path / "out"

    assert main([str(spec), "--scheduler", cluster, "--out", str(out), "--quiet"]) == 0
    rows = _rows(out)
    assert len(rows) == 8
    assert {(r["seed"], json.dumps(r["spec"]["patient"]), r["firmware"]) for r in rows.values()} == {
        (s, p, f) for s in (3, 4) for p in ("{}", '{"weight_kg": 55.0, "k_pg": 0.25}')
        for f in ("table", "raschke")}
    assert all(r["outcome"] == "pass" for r in rows.values()), [r["failures"] for r in rows.values()]
    for r in rows.values():
        (m,) = r["measurements"]
        assert m["name"] == "il6_end" and m["unit"] == "pg/mL" and m["value"] > 0
        assert [(x["kind"], x["outcome"]) for x in r["result"]["expectations"]] == [("no_alarm", "pass")]
        assert r["timing"]["worker"].startswith("tcp://127.0.0.1:")
    assert len({r["timing"]["worker"] for r in rows.values()}) == 2, "both workers took runs"
    il6 = {json.dumps(r["spec"]["patient"]): r["measurements"][0]["value"] for r in rows.values()}
    assert len(set(il6.values())) == 2, "the patient reaches the plant"

    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 8 and summary["pass_rate"] == 1.0
    assert set(summary["by_firmware"]) == {"table", "raschke"}
    assert summary["measurements"]["campaign_probe"]["il6_end"]["n"] == 8
    assert (out / "summary.html").read_text().count("campaign_probe") >= 2

    import pyarrow.parquet as pq

    table = pq.read_table(out / "runs.parquet")
    assert table.num_rows == 8 and set(table.column("outcome").to_pylist()) == {"pass"}

    # Started again: nothing left to do, unless firmware/ was edited meanwhile
    # (a run's id includes its firmware's digest: then those runs are due again).
    assert main([str(spec), "--scheduler", cluster, "--out", str(out), "--quiet"]) == 0
    again = json.loads((out / "summary.json").read_text())["run"]
    changed = sum(1 for r in _rows(out).values() if r["run_id"] not in rows)
    assert again["runs_this_time"] == changed and again["runs_resumed"] == 8 - changed
    assert len((out / "runs.jsonl").read_text().splitlines()) == 8 + changed

    # The same runs into a fresh table: the same rows outside their timing.
    out2 = tmp_path / "out2"
    assert main([str(spec), "--scheduler", cluster, "--out", str(out2), "--quiet"]) == 0
    rows2 = _rows(out2)
    assert len(rows2) == 8
    same = [rid for rid in rows2 if rid in rows]
    assert same or changed, "the same firmware gives the same run ids"
    for rid in same:
        assert {k: v for k, v in rows[rid].items() if k != "timing"} == \
               {k: v for k, v in rows2[rid].items() if k != "timing"}
